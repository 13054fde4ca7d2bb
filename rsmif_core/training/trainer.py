"""The training loop on Hugging Face Accelerate.

Differences from the authors' solvers, and why:
- one ``Accelerator`` replaces DataParallel and the hand-written ``.cuda()`` calls, so one config runs on
  a CPU, one GPU, several GPUs or nodes (``accelerate launch`` / ``torchrun``);
- the learning-rate schedule counts optimizer steps (with the epoch rule computed from them), so it
  survives gradient accumulation and a resume mid-epoch;
- checkpoints hold optimizer, scheduler, RNG and the loop position, and a resume continues mid-epoch
  with bit-identical weights instead of restarting the epoch.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, set_seed
from rich.console import Console
from torch.utils.data import DataLoader

from rsmif_core.config.load import to_yaml
from rsmif_core.config.schema import RunConfig
from rsmif_core.evaluation.runner import ItemBatch, evaluate
from rsmif_core.evaluation.scoring import MetricSet
from rsmif_core.factory import create_loss
from rsmif_core.training.builders import build_dataset, build_model_for, fresh_accelerator_state, use_cpu
from rsmif_core.training.checkpoints import (
    CheckpointManager,
    latest_checkpoint,
    model_signature,
    verify_checkpoint,
)
from rsmif_core.training.errors import TrainingError
from rsmif_core.training.optim import build_optimizer, build_scheduler
from rsmif_core.training.progress import TrainProgress
from rsmif_core.training.sampler import EpochSeededSampler
from rsmif_core.training.signals import StopRequest
from rsmif_core.training.state import TrainState
from rsmif_core.training.tracking import (
    TRACKER,
    RunLogger,
    capture_features,
    check_feature_modules,
    flatten_config,
    log_features,
)
from rsmif_core.types import Batch, collate
from rsmif_core.weights import save_weights

# Settings that change what a resumed run computes; a resume warns when they differ from the saved run.
_RESUME_SENSITIVE = ("optim", "schedule", "loss", "model", "trainer.epochs", "trainer.max_steps", "trainer.grad_accum_steps",
                     "data.train")


_EARLY_STOP = -1  # _after_step's answer when validation says to stop (not an exit status)


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    exit_code: int = 0
    best_value: float | None = None
    best_step: int | None = None
    final_weights: Path | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    steps_per_second: float = 0.0


def _dotted(tree: dict[str, Any], key: str) -> Any:
    node: Any = tree
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


class Trainer:
    """Trains ``cfg.model`` on ``cfg.data.train``; validates, checkpoints and logs as the config says."""

    def __init__(self, cfg: RunConfig, resume: bool = False, console: Console | None = None) -> None:
        self.cfg = cfg
        self.resume = resume
        self.console = console or Console()
        self.run_dir = Path(cfg.trainer.output_dir)
        t = cfg.trainer
        if t.epochs is None and t.max_steps is None:
            raise TrainingError("trainer: set trainer.epochs or trainer.max_steps (the training budget)", exit_code=2)
        if cfg.data.train is None:
            raise TrainingError("data.train: a training dataset is needed to train (rsmif test evaluates only)", exit_code=2)
        if not resume and latest_checkpoint(self.run_dir) is not None:
            raise TrainingError(
                f"{self.run_dir} already holds checkpoints of an earlier run; pass --resume to continue it "
                "or set trainer.output_dir to a new folder (nothing was overwritten)",
                exit_code=2,
            )
        if t.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        fresh_accelerator_state()
        self.accelerator = Accelerator(
            cpu=use_cpu(t.cpu),
            mixed_precision=t.mixed_precision,
            gradient_accumulation_steps=t.grad_accum_steps,
            log_with=TRACKER,
            project_config=ProjectConfiguration(project_dir=str(self.run_dir), logging_dir=str(self.run_dir / "tensorboard")),
            step_scheduler_with_optimizer=False,
        )
        set_seed(t.seed, deterministic=t.deterministic)
        if t.deterministic:
            torch.backends.cudnn.benchmark = False
        self.state = TrainState()
        self.stop = StopRequest()

    # ----- setup -------------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg, acc, t = self.cfg, self.accelerator, self.cfg.trainer
        assert cfg.data.train is not None
        self.train_ds = build_dataset(cfg.data.train, "train")
        self.val_ds = build_dataset(cfg.data.val, "val") if cfg.data.val is not None else None
        self.model_name = cfg.model.name
        self.model = build_model_for(cfg, self.train_ds)
        try:
            check_feature_modules(self.model, t.log_features)
        except ValueError as exc:
            raise TrainingError(str(exc), exit_code=2) from None
        self.signature = model_signature(self.model_name, self.model)
        try:
            self.loss_fn = create_loss(cfg.loss.name, **cfg.loss.args)
        except (TypeError, ValueError) as exc:
            raise TrainingError(f"loss {cfg.loss.name!r}: {exc}", exit_code=2) from None
        train_section = cfg.data.train
        self.sampler = EpochSeededSampler(len(self.train_ds), t.seed, shuffle=train_section.shuffle is not False)
        # A private generator: creating a loader iterator must not consume the global RNG, or a resumed
        # run (one extra iterator) would drift from an uninterrupted one.
        self.loader_generator = torch.Generator().manual_seed(t.seed)
        train_dl = DataLoader(
            self.train_ds,
            batch_size=train_section.batch_size,
            sampler=self.sampler,
            num_workers=train_section.num_workers,
            collate_fn=collate,
            generator=self.loader_generator,
            pin_memory=acc.device.type == "cuda",
            persistent_workers=train_section.num_workers > 0,
        )
        try:
            optimizer = build_optimizer(cfg.optim, self.model.parameters())
        except ValueError as exc:
            raise TrainingError(f"model {cfg.model.name!r}: {exc}", exit_code=2) from None
        val_dl = None
        if self.val_ds is not None and cfg.data.val is not None:
            val_dl = DataLoader(
                self.val_ds,
                batch_size=cfg.data.val.batch_size,
                shuffle=False,
                num_workers=cfg.data.val.num_workers,
                collate_fn=collate,
            )
            self.model, optimizer, train_dl, val_dl = acc.prepare(self.model, optimizer, train_dl, val_dl)
        else:
            self.model, optimizer, train_dl = acc.prepare(self.model, optimizer, train_dl)
        self.optimizer, self.train_dl, self.val_dl = optimizer, train_dl, val_dl
        if len(train_dl) == 0:
            raise TrainingError(f"data.train ({train_section.name}): the dataset is empty", exit_code=2)
        self.steps_per_epoch = math.ceil(len(train_dl) / t.grad_accum_steps)
        budget = [b for b in (t.max_steps, t.epochs * self.steps_per_epoch if t.epochs else None) if b is not None]
        self.total_steps = min(budget)
        self.scheduler = acc.prepare(build_scheduler(cfg.schedule, optimizer, self.steps_per_epoch, self.total_steps))
        acc.register_for_checkpointing(self.state)
        self.val_metrics: MetricSet | None = None
        if self.val_ds is not None:
            has_ref = bool(getattr(self.val_ds, "has_reference", True))
            names = [m for m in cfg.eval.val_metrics if has_ref or not _needs_reference(m)]
            try:
                self.val_metrics = MetricSet(names, cfg.eval, str(getattr(self.val_ds, "sensor", "none")), has_ref)
            except ValueError as exc:
                raise TrainingError(f"eval.val_metrics: {exc}", exit_code=2) from None
        self.best_metric, self.best_mode = self._best_rule()
        self.checkpoints = CheckpointManager(
            self.run_dir,
            save_state=lambda d: acc.save_state(d, safe_serialization=True),
            is_main=acc.is_main_process,
            barrier=acc.wait_for_everyone,
            agree=self._agree,
            keep_last=t.keep_last,
        )

    def _best_rule(self) -> tuple[str | None, str]:
        t = self.cfg.trainer
        if self.val_metrics is None:
            return None, t.best_mode
        name = t.best_metric or "loss"
        if name != "loss" and name not in self.val_metrics.metrics:
            raise TrainingError(f"trainer.best_metric: {name!r} is not computed on the validation data", exit_code=2)
        if "best_mode" in t.model_fields_set or name == "loss":
            return name, t.best_mode
        return name, "max" if self.val_metrics.higher_is_better(name) else "min"

    def _agree(self, flag: bool) -> bool:
        """True on every process when ``flag`` is true on any (one collective; free on one process)."""
        if self.accelerator.num_processes == 1:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self.accelerator.device)
        return bool(self.accelerator.reduce(value, reduction="sum").item() > 0)

    def _resume(self) -> None:
        ckpt = self.checkpoints.latest()
        if ckpt is None:
            raise TrainingError(f"--resume: no checkpoint found in {self.checkpoints.root}; start without --resume", exit_code=2)
        verify_checkpoint(ckpt, self.signature)
        self._warn_changed_settings()
        self.accelerator.load_state(str(ckpt))
        self._message(f"resumed from {ckpt} (epoch {self.state.epoch}, step {self.state.step}, "
                      f"batch {self.state.batch_in_epoch} of the epoch)")

    def _warn_changed_settings(self) -> None:
        saved_path = self.run_dir / "config.yaml"
        if not saved_path.is_file():
            return
        saved = yaml.safe_load(saved_path.read_text(encoding="utf-8")) or {}
        current = self.cfg.model_dump(mode="json")
        changed = [k for k in _RESUME_SENSITIVE if _dotted(saved, k) != _dotted(current, k)]
        if changed:
            self._message(f"[yellow]warning:[/] resuming with changed settings ({', '.join(changed)}); the result will "
                          "differ from an uninterrupted run with either config")

    def _message(self, text: str) -> None:
        if self.accelerator.is_main_process:
            self.console.print(text, highlight=False)

    # ----- the loop ------------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        acc, t = self.accelerator, self.cfg.trainer
        self._setup()
        if self.resume:
            self._resume()
        if acc.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(to_yaml(self.cfg), encoding="utf-8")
        acc.init_trackers("rsmif", config=flatten_config(self.cfg.model_dump(mode="json")))
        self.logger = RunLogger(acc, enabled=True)
        self.logger.text("config", "    " + to_yaml(self.cfg).replace("\n", "\n    "))
        if self.logger.logdir:
            self._message(f"tensorboard logs: {self.logger.logdir}\n  view them with: tensorboard --logdir {self.run_dir / 'tensorboard'}")
        self.progress = TrainProgress(self.total_steps, t.progress, acc.is_main_process, t.log_every, self.console)
        self._pending_losses: list[tuple[int, torch.Tensor]] = []
        self._window: dict[str, list[torch.Tensor]] = {}
        self._window_samples = 0
        self._window_t0 = time.perf_counter()
        self._last_loss: float | None = None
        self._stale_validations = 0
        exit_code = 0
        start_step = self.state.step
        t0 = time.perf_counter()
        self.progress.start(self.state.step)
        try:
            with self.stop:
                exit_code = self._loop()
        except TrainingError:
            self.logger.flush()  # keep the curves up to the failure
            raise
        finally:
            self.progress.stop()
        elapsed = time.perf_counter() - t0
        result = TrainResult(
            run_dir=self.run_dir,
            step=self.state.step,
            epoch=self.state.epoch,
            exit_code=exit_code,
            best_value=self.state.best_value,
            best_step=self.state.best_step,
            history=list(self.state.history),
            steps_per_second=(self.state.step - start_step) / elapsed if elapsed > 0 else 0.0,
        )
        if exit_code == 0:
            result.final_weights = self._finish()
        self._write_metrics(result)
        self.logger.flush()
        for tracker in acc.trackers:
            tracker.finish()
        return result

    def close(self) -> None:
        """End the distributed process group (after any test phase that still needs it)."""
        self.accelerator.state.destroy_process_group()

    def _budget_left(self) -> bool:
        t = self.cfg.trainer
        if self.state.step >= self.total_steps:
            return False
        return t.epochs is None or self.state.epoch < t.epochs

    def _loop(self) -> int:
        acc, t = self.accelerator, self.cfg.trainer
        while self._budget_left():
            epoch = self.state.epoch
            self.train_dl.set_epoch(epoch)
            self.sampler.set_epoch(epoch)
            if callable(getattr(self.train_ds, "set_epoch", None)):  # per-epoch augmentation; Accelerate skips
                self.train_ds.set_epoch(epoch)  # datasets when the sampler has its own set_epoch
            self.loader_generator.manual_seed(t.seed + epoch)
            skip = self.state.batch_in_epoch
            loader = acc.skip_first_batches(self.train_dl, skip) if skip else self.train_dl
            stopped_mid_epoch = False
            code: int | None = None
            self.model.train()
            for batch in loader:
                self._train_batch(batch)
                if not acc.sync_gradients:
                    continue
                self.scheduler.step()
                self.state.step += 1
                last_batch_of_epoch = self.state.batch_in_epoch >= len(self.train_dl)
                if last_batch_of_epoch:
                    self.state.epoch += 1
                    self.state.batch_in_epoch = 0
                code = self._after_step(batch, epoch_ended=last_batch_of_epoch)
                if code is not None and code != _EARLY_STOP:
                    _end_iteration(loader)
                    return code
                if code == _EARLY_STOP or not self._budget_left():
                    stopped_mid_epoch = not last_batch_of_epoch
                    break
            if stopped_mid_epoch:
                _end_iteration(loader)
            if code == _EARLY_STOP:
                break
        self._check_losses()
        if self.checkpoints.latest() is None or _step_of(self.checkpoints.latest()) != self.state.step:
            self._save_checkpoint()
        return 0

    def _train_batch(self, batch: Batch) -> None:
        acc, t = self.accelerator, self.cfg.trainer
        with acc.accumulate(self.model):
            with acc.autocast():
                output = self.model(batch)
                loss = self.loss_fn(output, batch)
            acc.backward(loss.total)
            if t.grad_clip is not None and acc.sync_gradients:
                acc.clip_grad_norm_(self.model.parameters(), t.grad_clip)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        self.state.batch_in_epoch += 1
        total = loss.total.detach()
        self._pending_losses.append((self.state.step + 1, total))
        self._window.setdefault("loss", []).append(total.float())
        for name, value in loss.terms.items():
            if name != "loss":
                self._window.setdefault(name, []).append(value.detach().float().mean())
        self._window_samples += len(batch)

    def _after_step(self, batch: Batch, epoch_ended: bool) -> int | None:
        t, step = self.cfg.trainer, self.state.step
        if step % t.log_every == 0 or step == self.total_steps:
            self._log_train(step)
        self.progress.update(step, self._last_loss)
        validate = (t.val_every is not None and step % t.val_every == 0) or (t.val_every is None and epoch_ended)
        if validate:
            self._check_losses()
            if self._validate(step, batch):
                return _EARLY_STOP
        checkpoint = (t.checkpoint_every is not None and step % t.checkpoint_every == 0) or (
            t.checkpoint_every is None and epoch_ended
        )
        if checkpoint and step < self.total_steps:
            self._check_losses()
            self._save_checkpoint()
        if self._agree(self.stop.requested):
            self._check_losses()
            path = self._save_checkpoint()
            self._message(f"stopped by signal at step {step}; checkpoint {path}; continue with --resume")
            return self.stop.exit_code or 130
        return None

    def _check_losses(self) -> None:
        """Raise on the first non-finite loss since the last check (one device sync per check, not per step)."""
        if not self._pending_losses:
            return
        steps = [s for s, _ in self._pending_losses]
        finite = torch.isfinite(torch.stack([v.float() for _, v in self._pending_losses])).cpu().tolist()
        self._pending_losses.clear()
        bad = [s for s, ok in zip(steps, finite) if not ok]
        if self._agree(bool(bad)):
            first = bad[0] if bad else "(on another process)"
            last = self.checkpoints.latest()
            kept = f"the last good checkpoint is {last} (left untouched)" if last else "no checkpoint was written before it"
            raise TrainingError(
                f"the loss became NaN or infinite at step {first}; training stopped and nothing was saved after it; "
                f"{kept}. Lower optim.lr, set trainer.grad_clip, or check the data for invalid values.",
                exit_code=3,
            )

    def _log_train(self, step: int) -> None:
        if not self._window:
            return
        acc = self.accelerator
        values = {f"train/{name}": float(torch.stack(v).mean()) for name, v in self._window.items()}
        elapsed = time.perf_counter() - self._window_t0
        values["train/lr"] = float(self.scheduler.get_last_lr()[0])
        values["train/samples_per_second"] = self._window_samples * acc.num_processes / elapsed if elapsed > 0 else 0.0
        values["train/epoch"] = float(self.state.epoch)
        self._last_loss = values["train/loss"]
        self.logger.scalars(values, step)
        self._window = {}
        self._window_samples = 0
        self._window_t0 = time.perf_counter()

    def _validate(self, step: int, last_train_batch: Batch) -> bool:
        """Validate, log, keep the best checkpoint; True when early stopping says to end the run."""
        t = self.cfg.trainer
        feature_names = t.log_features
        unwrapped = self.accelerator.unwrap_model(self.model)
        if self.val_dl is None or self.val_metrics is None:
            if not (t.log_images or feature_names):
                return False
            with torch.no_grad(), capture_features(unwrapped, feature_names) as captured:
                self.model.eval()
                fused = self.model(last_train_batch).fused.float()
                self.model.train()
            if t.log_images:
                self.logger.scene("train_images", fused, last_train_batch, step)
            log_features(self.logger, captured, step)
            return False

        def on_batch(fused: torch.Tensor, local: ItemBatch, index: int) -> None:
            if index == 0 and t.log_images:
                self.logger.scene("val_images", fused, local.batch, step)

        with capture_features(unwrapped, feature_names) as captured:
            result = evaluate(self.model, self.val_dl, self.val_metrics, self.accelerator, self.loss_fn, on_batch)
        log_features(self.logger, captured, step)
        means = result.means()
        if result.loss is not None:
            means["loss"] = result.loss
        self.logger.scalars({f"val/{k}": v for k, v in means.items()}, step)
        self.state.history.append({"step": float(step), "images": float(len(result.ids)), **means})
        self.progress.message(f"validation at step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in means.items()))
        if self.best_metric is None or self.best_metric not in means:
            return False
        value = means[self.best_metric]
        if self.state.is_better(value, self.best_mode):
            self.state.best_value, self.state.best_step = value, step
            self._stale_validations = 0
            self.checkpoints.save("best", self._meta({"best_metric": self.best_metric, "best_value": value}))
            return False
        self._stale_validations += 1
        if t.patience is not None and self._stale_validations >= t.patience:
            self._message(f"early stop: val {self.best_metric} did not improve for {t.patience} validations "
                          f"(best {self.state.best_value:.4g} at step {self.state.best_step})")
            return True
        return False

    def _meta(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return {**self.signature, "step": self.state.step, "epoch": self.state.epoch, **(extra or {})}

    def _save_checkpoint(self) -> Path:
        return self.checkpoints.save(f"step_{self.state.step:08d}", self._meta())

    def _finish(self) -> Path:
        acc = self.accelerator
        acc.wait_for_everyone()
        path = self.run_dir / "model.safetensors"
        if acc.is_main_process:
            model = acc.unwrap_model(self.model)
            try:
                save_weights(model, path, self.model_name, {"step": self.state.step, "epoch": self.state.epoch})
            except OSError as exc:
                raise TrainingError(f"could not write {path}: {exc}; the checkpoints in {self.checkpoints.root} are intact") from None
            self._message(f"saved {path}")
        acc.wait_for_everyone()
        return path

    def _write_metrics(self, result: TrainResult) -> None:
        if not self.accelerator.is_main_process:
            return
        payload = {
            "model": self.model_name,
            "step": result.step,
            "epoch": result.epoch,
            "exit_code": result.exit_code,
            "best_metric": self.best_metric,
            "best_mode": self.best_mode,
            "best_value": result.best_value,
            "best_step": result.best_step,
            "steps_per_second": result.steps_per_second,
            "validation": result.history,
        }
        path = self.run_dir / "metrics.json"
        previous = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        previous.update(payload)
        path.write_text(json.dumps(previous, indent=2), encoding="utf-8")


def _step_of(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return int(path.name.removeprefix("step_"))
    except ValueError:
        return None


def _end_iteration(loader: Any) -> None:
    """Tell Accelerate a loader we broke out of is finished, so its gradient state stops tracking it."""
    end = getattr(loader, "end", None)
    if callable(end):
        end()


def _needs_reference(name: str) -> bool:
    from rsmif_core.plugins.manager import registry

    factory = registry().get("metrics", name).factory
    return bool(getattr(factory, "needs_reference", True))
