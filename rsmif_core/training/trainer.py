"""The training loop on Hugging Face Accelerate.

The run layer (:mod:`rsmif_core.run`) builds every part from a config and hands them over in one
:class:`TrainParts`; this module only trains. Differences from the authors' solvers, and why:

- one ``Accelerator`` replaces DataParallel and the hand-written ``.cuda()`` calls, so one config runs on
  a CPU, one GPU, several GPUs or nodes (``accelerate launch`` / ``torchrun``);
- the learning-rate schedule counts optimizer steps (with the epoch rule computed from them), so it
  survives gradient accumulation and a resume mid-epoch;
- checkpoints hold optimizer, scheduler, RNG and the loop position, and a resume continues mid-epoch
  with bit-identical weights instead of restarting the epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch import Tensor, nn

from rsmif_core.config.schema import TrainerSection
from rsmif_core.errors import DIVERGED, TrainingError
from rsmif_core.training.checkpoints import CheckpointManager, step_of
from rsmif_core.training.progress import TrainProgress
from rsmif_core.training.sampler import EpochSeededSampler
from rsmif_core.training.signals import StopRequest
from rsmif_core.training.state import TrainState
from rsmif_core.training.tracking import RunLogger, capture_features, log_features
from rsmif_core.types import Batch, FusionOutput, LossOutput

OnBatch = Callable[[Tensor, Batch, int], None]


@dataclass
class Validation:
    """Scores the model on the validation data; built by the run layer (training never imports evaluation).

    ``run(model, on_batch)`` returns the mean of every metric (and ``loss`` when the data has a reference)
    plus ``images``, the number of images scored; ``on_batch(fused, batch, index)`` sees each batch.
    """

    run: Callable[[nn.Module, OnBatch | None], dict[str, float]]
    best_metric: str
    best_mode: str  # "min" or "max"


@dataclass
class TrainParts:
    """Everything one run trains with, prepared by Accelerate."""

    accelerator: Any
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    train_loader: Any
    train_dataset: Any
    sampler: EpochSeededSampler
    loader_generator: torch.Generator  # private: creating a loader iterator must not consume the global RNG
    loss_fn: Callable[[FusionOutput, Batch], LossOutput]
    state: TrainState  # registered for checkpointing
    checkpoints: CheckpointManager
    logger: RunLogger
    signature: dict[str, Any]  # what a checkpoint must match to be resumed into this model
    steps_per_epoch: int
    total_steps: int
    validation: Validation | None = None


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    exit_code: int = 0
    best_metric: str | None = None
    best_mode: str = "min"
    best_value: float | None = None
    best_step: int | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    steps_per_second: float = 0.0


class Trainer:
    """Trains ``parts.model`` for the budget of ``settings``; validates, checkpoints and logs as they say."""

    def __init__(self, parts: TrainParts, settings: TrainerSection, console: Console | None = None) -> None:
        self.parts = parts
        self.settings = settings
        self.console = console or Console()
        self.stop = StopRequest()
        self.progress = TrainProgress(parts.total_steps, settings.progress, parts.accelerator.is_main_process,
                                      settings.log_every, self.console)
        self.window = LossWindow()
        self.pending: list[Pending] = []  # checked once per log, validation or checkpoint, not per step
        # fp16's gradient scaler skips steps with inf gradients by design; everywhere else they are a failure
        self.check_gradients = parts.accelerator.mixed_precision != "fp16"
        self.stale_validations = 0

    # ----- the loop: one screen ------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        p, acc, state = self.parts, self.parts.accelerator, self.parts.state
        start_step, t0 = state.step, time.perf_counter()
        exit_code = 0
        self.progress.start(state.step)
        try:
            if self.settings.val_at_start and state.step == 0 and p.validation is not None:
                self.validate(0, None)
            with self.stop:
                while exit_code == 0 and self.budget_left():
                    epoch = state.epoch
                    self.begin_epoch(epoch)
                    skip = state.batch_in_epoch
                    loader = acc.skip_first_batches(p.train_loader, skip) if skip else p.train_loader
                    p.model.train()
                    for batch in loader:
                        self.train_step(batch)
                        if not acc.sync_gradients:
                            continue  # accumulating
                        p.scheduler.step()
                        state.step += 1
                        epoch_ended = state.batch_in_epoch >= len(p.train_loader)
                        if epoch_ended:
                            state.epoch, state.batch_in_epoch = state.epoch + 1, 0
                        exit_code = self.after_step(batch, epoch_ended)
                        if exit_code or not self.budget_left():
                            if exit_code > 0 or not epoch_ended:  # a stop request ends the iteration anyway
                                end_iteration(loader)
                            break
                if exit_code == 0 or exit_code == EARLY_STOP:
                    exit_code = 0
                    self.finish_checkpoint()
        except TrainingError:
            p.logger.flush()  # keep the curves up to the failure
            raise
        finally:
            self.progress.stop()
        elapsed = time.perf_counter() - t0
        validation = p.validation
        return TrainResult(
            run_dir=p.checkpoints.root.parent, step=state.step, epoch=state.epoch, exit_code=exit_code,
            best_metric=validation.best_metric if validation else None,
            best_mode=validation.best_mode if validation else "min",
            best_value=state.best_value, best_step=state.best_step, history=list(state.history),
            steps_per_second=(state.step - start_step) / elapsed if elapsed > 0 else 0.0,
        )

    # ----- steps ----------------------------------------------------------------------------------------
    def budget_left(self) -> bool:
        state, epochs = self.parts.state, self.settings.epochs
        return state.step < self.parts.total_steps and (epochs is None or state.epoch < epochs)

    def begin_epoch(self, epoch: int) -> None:
        p = self.parts
        p.train_loader.set_epoch(epoch)
        p.sampler.set_epoch(epoch)
        if callable(getattr(p.train_dataset, "set_epoch", None)):  # per-epoch augmentation; Accelerate skips
            p.train_dataset.set_epoch(epoch)  # datasets when the sampler has its own set_epoch
        p.loader_generator.manual_seed(self.settings.seed + epoch)

    def train_step(self, batch: Batch) -> None:
        p, acc = self.parts, self.parts.accelerator
        grad_norm: Tensor | None = None
        with acc.accumulate(p.model):
            with acc.autocast():
                loss = p.loss_fn(p.model(batch), batch)
            acc.backward(loss.total)
            if acc.sync_gradients:
                if self.settings.grad_clip is not None:
                    grad_norm = acc.clip_grad_norm_(p.model.parameters(), self.settings.grad_clip)
                elif self.check_gradients:
                    grad_norm = total_norm([q.grad for q in p.model.parameters() if q.grad is not None])
            p.optimizer.step()
            p.optimizer.zero_grad(set_to_none=True)
        p.state.batch_in_epoch += 1
        self.pending.append(Pending(p.state.step + 1, loss.total.detach(), grad_norm, list(batch.meta.ids)))
        self.window.add(loss, len(batch))

    def after_step(self, batch: Batch, epoch_ended: bool) -> int:
        """Log, validate, checkpoint and answer a stop request; the exit status (or EARLY_STOP), 0 to go on."""
        s, step = self.settings, self.parts.state.step
        if step % s.log_every == 0 or step == self.parts.total_steps:
            self.check_losses()  # logging syncs with the device anyway
            self.log_train(step)
        self.progress.update(step, self.window.last_loss)
        if (s.val_every is not None and step % s.val_every == 0) or (s.val_every is None and epoch_ended):
            self.check_losses()
            if self.validate(step, batch):
                return EARLY_STOP
        checkpoint_due = (s.checkpoint_every is not None and step % s.checkpoint_every == 0) or (
            s.checkpoint_every is None and epoch_ended)
        if checkpoint_due and step < self.parts.total_steps:
            self.save_checkpoint()
        if self.parts.checkpoints.agree(self.stop.requested):
            path = self.save_checkpoint()
            self.message(f"stopped by signal at step {step}; checkpoint {path}; continue with --resume")
            return self.stop.exit_code or 130
        return 0

    def check_losses(self) -> None:
        """Stop on the first non-finite or diverging loss, or non-finite gradients, since the last check (one
        device sync per check, not per step), naming the step and the batch's items."""
        if not self.pending:
            return
        losses = torch.stack([q.loss.float() for q in self.pending]).cpu().tolist()
        norms = [float(q.grad_norm) if q.grad_norm is not None else 0.0 for q in self.pending]
        pending, self.pending = self.pending, []
        state, factor = self.parts.state, self.settings.divergence_factor
        problem = None
        for q, loss, norm in zip(pending, losses, norms):
            if not math.isfinite(loss):
                problem = f"the loss became NaN or infinite at step {q.step}"
            elif not math.isfinite(norm):
                problem = f"the gradients became NaN or infinite at step {q.step} (loss {loss:.4g})"
            elif state.first_loss is None:
                state.first_loss = loss
            elif factor is not None and state.first_loss > 0 and loss > factor * state.first_loss:
                problem = (f"the loss diverged at step {q.step}: {loss:.4g}, more than {factor:g} times the first "
                           f"step's {state.first_loss:.4g} (trainer.divergence_factor)")
            if problem:
                shown = ", ".join(q.ids[:8]) + (f" and {len(q.ids) - 8} more" if len(q.ids) > 8 else "")
                problem += f"; the batch held {shown}"
                break
        if self.parts.checkpoints.agree(problem is not None):
            last = self.parts.checkpoints.latest()
            kept = f"the last good checkpoint is {last} (left untouched)" if last else "no checkpoint was written before it"
            raise TrainingError(
                f"{problem or 'training diverged on another process'}; training stopped and nothing was saved after "
                f"it; {kept}. Lower optim.lr, set trainer.grad_clip, or check those items for invalid values.",
                exit_code=DIVERGED,
            )

    def check_validation_loss(self, step: int, loss: float | None) -> None:
        """A model whose validation loss is not finite or has diverged is never kept, as best or otherwise."""
        first, factor = self.parts.state.first_loss, self.settings.divergence_factor
        if loss is None or (math.isfinite(loss) and (factor is None or first is None or loss <= factor * first)):
            return
        last = self.parts.checkpoints.latest()
        kept = f"the last good checkpoint is {last} (left untouched)" if last else "no checkpoint was written before it"
        raise TrainingError(
            f"the validation loss at step {step} is {loss:.4g}, more than {factor:g} times the first training loss "
            f"{first:.4g} (trainer.divergence_factor): the model diverged; nothing was saved after it; {kept}. "
            "Lower optim.lr or set trainer.grad_clip." if math.isfinite(loss) else
            f"the validation loss at step {step} is not finite: the model diverged; nothing was saved after it; "
            f"{kept}. Lower optim.lr or set trainer.grad_clip.",
            exit_code=DIVERGED,
        )

    def log_train(self, step: int) -> None:
        p = self.parts
        values = self.window.drain(p.accelerator.num_processes)
        if values:
            values["train/lr"] = float(p.scheduler.get_last_lr()[0])
            values["train/epoch"] = float(p.state.epoch)
            p.logger.scalars(values, step)

    def validate(self, step: int, last_train_batch: Batch | None) -> bool:
        """Validate, log, keep the best checkpoint; True when early stopping says to end the run."""
        p, s = self.parts, self.settings
        unwrapped = p.accelerator.unwrap_model(p.model)
        if p.validation is None:
            if last_train_batch is not None and (s.log_images or s.log_features):  # show what the model makes of the last training batch
                with torch.no_grad(), capture_features(unwrapped, s.log_features) as captured:
                    p.model.eval()
                    fused = p.model(last_train_batch).fused.float()
                    p.model.train()
                if s.log_images:
                    p.logger.scene("train_images", fused, last_train_batch, step)
                log_features(p.logger, captured, step)
            return False

        def show_first(fused: Tensor, batch: Batch, index: int) -> None:
            if index == 0 and s.log_images:
                p.logger.scene("val_images", fused, batch, step)

        with capture_features(unwrapped, s.log_features) as captured:
            means = p.validation.run(p.model, show_first)
        log_features(p.logger, captured, step)
        images = means.pop("images", 0.0)
        p.logger.scalars({f"val/{k}": v for k, v in means.items()}, step)
        p.state.history.append({"step": float(step), "images": images, **means})
        self.progress.message(f"validation at step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in means.items()))
        self.check_validation_loss(step, means.get("loss"))
        name, mode = p.validation.best_metric, p.validation.best_mode
        if name not in means:
            return False
        if p.state.is_better(means[name], mode):
            p.state.best_value, p.state.best_step = means[name], step
            self.stale_validations = 0
            p.checkpoints.save("best", self.meta({"best_metric": name, "best_value": means[name]}))
            return False
        self.stale_validations += 1
        if s.patience is not None and self.stale_validations >= s.patience:
            self.message(f"early stop: val {name} did not improve for {s.patience} validations "
                         f"(best {p.state.best_value:.4g} at step {p.state.best_step})")
            return True
        return False

    # ----- checkpoints ----------------------------------------------------------------------------------
    def resume(self, checkpoint: Path) -> None:
        """Continue from ``checkpoint`` (verified by the caller): weights, optimizer, RNG and loop position."""
        self.parts.accelerator.load_state(str(checkpoint))
        state = self.parts.state
        self.message(f"resumed from {checkpoint} (epoch {state.epoch}, step {state.step}, "
                     f"batch {state.batch_in_epoch} of the epoch)")

    def meta(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        state = self.parts.state
        return {**self.parts.signature, "step": state.step, "epoch": state.epoch, **(extra or {})}

    def save_checkpoint(self) -> Path:
        self.check_losses()
        return self.parts.checkpoints.save(f"step_{self.parts.state.step:08d}", self.meta())

    def finish_checkpoint(self) -> None:
        """The end of the budget is always a checkpoint (unless the last step already wrote one)."""
        self.check_losses()
        latest = self.parts.checkpoints.latest()
        if latest is None or step_of(latest) != self.parts.state.step:
            self.save_checkpoint()

    def message(self, text: str) -> None:
        if self.parts.accelerator.is_main_process:
            self.console.print(text, highlight=False)


EARLY_STOP = -1  # after_step's answer when validation says to stop (not an exit status)


@dataclass
class Pending:
    """One optimizer step awaiting the health check: its loss, gradient norm and the items of its batch."""

    step: int
    loss: Tensor
    grad_norm: Tensor | None
    ids: list[str]


class LossWindow:
    """The loss terms of the steps since the last log line, averaged when logged."""

    def __init__(self) -> None:
        self.values: dict[str, list[Tensor]] = {}
        self.samples = 0
        self.t0 = time.perf_counter()
        self.last_loss: float | None = None

    def add(self, loss: LossOutput, samples: int) -> None:
        self.values.setdefault("loss", []).append(loss.total.detach().float())
        for name, value in loss.terms.items():
            if name != "loss":
                self.values.setdefault(name, []).append(value.detach().float().mean())
        self.samples += samples

    def drain(self, processes: int) -> dict[str, float]:
        if not self.values:
            return {}
        out = {f"train/{name}": float(torch.stack(v).mean()) for name, v in self.values.items()}
        elapsed = time.perf_counter() - self.t0
        out["train/samples_per_second"] = self.samples * processes / elapsed if elapsed > 0 else 0.0
        self.last_loss = out["train/loss"]
        self.values, self.samples, self.t0 = {}, 0, time.perf_counter()
        return out


def total_norm(grads: list[Tensor]) -> Tensor:
    """The 2-norm of all gradients together (what gradient clipping measures)."""
    if not grads:
        return torch.zeros(())
    fused = getattr(torch.nn.utils, "get_total_norm", None)  # torch >= 2.6: one foreach kernel
    if fused is not None:
        return fused(grads)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.detach().float()) for g in grads]))


def end_iteration(loader: Any) -> None:
    """Tell Accelerate a loader we broke out of is finished, so its gradient state stops tracking it."""
    end = getattr(loader, "end", None)
    if callable(end):
        end()
