"""``rsmif run``: build a training run from a config, train it, save its folder, then test it."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import ProjectConfiguration, set_seed
from rich.console import Console
from torch import Tensor, nn
from torch.utils.data import DataLoader

from rsmif_core.config.load import dotted_get, to_yaml
from rsmif_core.config.schema import RunConfig
from rsmif_core.errors import CheckpointError, RsmifError, RunFailure, UsageError
from rsmif_core.evaluation.runner import evaluate
from rsmif_core.models.weights import model_signature, plain, save_weights
from rsmif_core.run.build import (
    apply_runtime,
    build_dataset,
    build_loss,
    build_metrics,
    build_model,
    loader_workers,
    make_accelerator,
    maybe_compile,
    needs_reference,
)
from rsmif_core.run.folder import RunFolder
from rsmif_core.run.test import TestReport, run_test
from rsmif_core.run.weights import load_into, resolve_weights
from rsmif_core.training import Trainer, TrainParts, TrainResult, TrainState, Validation
from rsmif_core.training.checkpoints import BEST, CheckpointManager, newest_intact
from rsmif_core.training.optim import build_optimizer, build_scheduler
from rsmif_core.training.sampler import EpochSeededSampler
from rsmif_core.training.tracking import TRACKER, RunLogger, check_feature_modules, flatten_config
from rsmif_core.types import collate

# Settings that change what a resumed run computes; a resume warns when they differ from the saved run.
RESUME_SENSITIVE = ("optim", "schedule", "loss", "model", "trainer.epochs", "trainer.max_steps",
                    "trainer.grad_accum_steps", "data.train")


def train(cfg: RunConfig, resume: bool = False, console: Console | None = None,
          overwrite: bool = False) -> tuple[TrainResult, Any]:
    """Train ``cfg`` (continue the latest checkpoint with ``resume``; replace an earlier run in the folder with
    ``overwrite``); return the result and the accelerator (still holding the process group, for the tests)."""
    console = console or Console()
    t, folder = cfg.trainer, RunFolder(Path(cfg.trainer.output_dir))
    if t.epochs is None and t.max_steps is None:
        raise UsageError(f"{cfg.source}: set trainer.epochs or trainer.max_steps (the training budget)")
    if cfg.data.train is None:
        raise UsageError(f"{cfg.source}: data.train: a training dataset is needed to train (rsmif test evaluates only)")
    folder.check_can_train(resume, overwrite)
    apply_runtime(cfg.runtime)
    accelerator = make_accelerator(
        cfg, gradient_accumulation_steps=t.grad_accum_steps, log_with=TRACKER, step_scheduler_with_optimizer=False,
        project_config=ProjectConfiguration(project_dir=str(folder.root), logging_dir=str(folder.tensorboard)),
    )
    _prepare_folder(folder, accelerator, overwrite, console)
    set_seed(t.seed, deterministic=t.deterministic)
    if t.deterministic:
        torch.backends.cudnn.benchmark = False
    parts, model_name = _build_parts(cfg, folder, accelerator, console)
    resolved = cfg.model_copy(deep=True)
    resolved.model.args = plain(accelerator.unwrap_model(parts.model).arguments)
    accelerator.init_trackers("rsmif", config=flatten_config(resolved.model_dump(mode="json")))
    parts = replace(parts, logger=RunLogger(accelerator, enabled=True))  # the tracker exists from here on
    trainer = Trainer(parts, t, console)
    if resume:
        checkpoint = _checkpoint_to_resume(parts, accelerator, console)
        _warn_changed_settings(folder, cfg, accelerator, console)
        trainer.resume(checkpoint)
    if accelerator.is_main_process:
        folder.write_config(resolved)
    parts.logger.text("config", "    " + to_yaml(resolved).replace("\n", "\n    "))
    if parts.logger.logdir and accelerator.is_main_process:
        console.print(f"tensorboard logs: {parts.logger.logdir}\n  view them with: tensorboard --logdir "
                      f"{folder.tensorboard}", highlight=False)
    result = trainer.fit()
    if result.exit_code == 0:
        if t.final_weights == "best":
            _restore_best(parts, folder, accelerator, console)
        _save_final_weights(folder, accelerator, parts.model, model_name, result, console)
    if accelerator.is_main_process:
        folder.update_metrics(_summary(model_name, result))
    parts.logger.flush()
    for tracker in accelerator.trackers:
        tracker.finish()
    return result, accelerator


def train_and_test(cfg: RunConfig, resume: bool = False, console: Console | None = None,
                   overwrite: bool = False) -> TrainResult:
    """``rsmif run``: train, then test on ``data.test`` (reduced resolution) and ``data.test_fr`` when set."""
    console = console or Console()
    result, accelerator = train(cfg, resume, console, overwrite)
    try:
        if result.exit_code == 0:
            folder = RunFolder(Path(cfg.trainer.output_dir))
            for kind, section in (("rr", cfg.data.test), ("fr", cfg.data.test_fr)):
                if section is not None:
                    report = run_test(cfg, folder.root, "rr" if kind == "rr" else "fr", accelerator=accelerator,
                                      console=console, overwrite=True)  # this run's own test folders
                    _record_test(folder, report, accelerator.is_main_process)
    finally:
        accelerator.state.destroy_process_group()
    return result


def _prepare_folder(folder: RunFolder, accelerator: Any, overwrite: bool, console: Console) -> None:
    """Create the run folder on the main process (clearing an earlier run with ``overwrite``); every process
    learns whether that worked, so none waits forever for a failed one."""
    problem: RsmifError | None = None
    if accelerator.is_main_process:
        try:
            removed = folder.create(overwrite)
        except RsmifError as exc:
            problem = exc
        else:
            if removed:
                console.print(f"--overwrite: removed the earlier run's {', '.join(p.name for p in removed)} from "
                              f"{folder.root}", highlight=False)
    if _agree(accelerator, problem is not None):
        raise problem or RunFailure(f"the main process could not prepare {folder.root}")


def _build_parts(cfg: RunConfig, folder: RunFolder, accelerator: Any, console: Console) -> tuple[TrainParts, str]:
    t, train_section = cfg.trainer, cfg.data.train
    assert train_section is not None
    train_ds = build_dataset(train_section, "train")
    val_ds = build_dataset(cfg.data.val, "val") if cfg.data.val is not None else None
    model = build_model(cfg, train_ds)
    if cfg.model.init_from is not None:
        _initialise(model, cfg, accelerator, console)
    try:
        check_feature_modules(model, t.log_features)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    signature = model_signature(cfg.model.name, model)
    loss_fn = build_loss(cfg)
    sampler = EpochSeededSampler(len(train_ds), t.seed, shuffle=train_section.shuffle is not False)
    loader_generator = torch.Generator().manual_seed(t.seed)
    workers = loader_workers(train_section, "data.train", console if accelerator.is_main_process else None)
    if len(train_ds) < train_section.batch_size and accelerator.is_main_process:
        console.print(f"note: data.train holds {len(train_ds)} items, fewer than its batch_size "
                      f"{train_section.batch_size}: every epoch is one batch of {len(train_ds)}", highlight=False)
    train_dl = DataLoader(train_ds, batch_size=train_section.batch_size, sampler=sampler, num_workers=workers,
                          collate_fn=collate, generator=loader_generator, pin_memory=accelerator.device.type == "cuda",
                          persistent_workers=workers > 0)
    try:
        optimizer = build_optimizer(cfg.optim, model.parameters())
    except ValueError as exc:
        raise UsageError(f"model {cfg.model.name!r}: {exc}") from None
    model = maybe_compile(model, cfg.runtime, console, accelerator.device.type)
    val_dl = None
    if val_ds is not None and cfg.data.val is not None:
        val_dl = DataLoader(val_ds, batch_size=cfg.data.val.batch_size, shuffle=False, collate_fn=collate,
                            num_workers=loader_workers(cfg.data.val, "data.val"))
        model, optimizer, train_dl, val_dl = accelerator.prepare(model, optimizer, train_dl, val_dl)
    else:
        model, optimizer, train_dl = accelerator.prepare(model, optimizer, train_dl)
    if len(train_dl) == 0:
        raise UsageError(f"data.train ({train_section.name}): the dataset is empty")
    steps_per_epoch = math.ceil(len(train_dl) / t.grad_accum_steps)
    budget = [b for b in (t.max_steps, t.epochs * steps_per_epoch if t.epochs else None) if b is not None]
    total_steps = min(budget)
    scheduler = accelerator.prepare(build_scheduler(cfg.schedule, optimizer, steps_per_epoch, total_steps))
    state = TrainState()
    accelerator.register_for_checkpointing(state)
    validation = _validation(cfg, val_ds, val_dl, accelerator, loss_fn) if val_ds is not None else None
    checkpoints = CheckpointManager(
        folder.root, save_state=lambda d: accelerator.save_state(d, safe_serialization=True),
        is_main=accelerator.is_main_process, barrier=accelerator.wait_for_everyone,
        agree=lambda flag: _agree(accelerator, flag), keep_last=t.keep_last,
    )
    parts = TrainParts(
        accelerator=accelerator, model=model, optimizer=optimizer, scheduler=scheduler, train_loader=train_dl,
        train_dataset=train_ds, sampler=sampler, loader_generator=loader_generator, loss_fn=loss_fn, state=state,
        checkpoints=checkpoints, logger=RunLogger(accelerator, enabled=False), signature=signature,
        steps_per_epoch=steps_per_epoch, total_steps=total_steps, validation=validation,
    )
    return parts, cfg.model.name


def _initialise(model: nn.Module, cfg: RunConfig, accelerator: Any, console: Console) -> None:
    """``model.init_from``: load the weights to fine-tune (checked against the configured model)."""
    source = Path(str(cfg.model.init_from)).expanduser()
    try:
        weights = resolve_weights(source)
        load_into(model, cfg.model.name, weights)
    except CheckpointError as exc:
        raise UsageError(f"model.init_from: {exc.message}") from None
    if accelerator.is_main_process:
        console.print(f"model.init_from: starting from {weights.path}", highlight=False)


def _validation(cfg: RunConfig, dataset: Any, loader: Any, accelerator: Any, loss_fn: Any) -> Validation:
    has_reference = bool(getattr(dataset, "has_reference", True))
    wanted = cfg.eval.val_metrics
    if not has_reference and "val_metrics" not in cfg.eval.model_fields_set:
        wanted = cfg.eval.fr_metrics  # validation data without reference: the no-reference indices
    names = [m for m in wanted if has_reference or not needs_reference(m)]
    metrics = build_metrics(names, cfg.eval, cfg.runtime, dataset, "eval.val_metrics")
    best = cfg.trainer.best_metric or "loss"
    if best != "loss" and best not in metrics.metrics:
        raise UsageError(f"trainer.best_metric: {best!r} is not computed on the validation data")
    if "best_mode" in cfg.trainer.model_fields_set or best == "loss":
        mode = cfg.trainer.best_mode
    else:
        mode = "max" if metrics.higher_is_better(best) else "min"

    def run(model: nn.Module, on_batch: Any) -> dict[str, float]:
        def forward(fused: Tensor, local: Any, index: int) -> None:
            if on_batch is not None:
                on_batch(fused, local.batch, index)

        result = evaluate(model, loader, metrics, accelerator, loss_fn, forward)
        means = result.means()
        if result.loss is not None:
            means["loss"] = result.loss
        return {"images": float(len(result.ids)), **means}

    return Validation(run=run, best_metric=best, best_mode=mode)


def _checkpoint_to_resume(parts: TrainParts, accelerator: Any, console: Console) -> Path:
    """The newest checkpoint that is intact and fits the model; damaged newer ones are skipped and named."""
    root = parts.checkpoints.root
    if parts.checkpoints.latest() is None:
        raise UsageError(f"--resume: no checkpoint found in {root}; start without --resume")
    checkpoint, skipped = newest_intact(root, parts.signature)
    if accelerator.is_main_process:
        for reason in skipped:
            console.print(f"[yellow]warning:[/] --resume skipped a damaged checkpoint: {reason}", highlight=False)
    if checkpoint is None:
        raise CheckpointError(f"--resume: no intact checkpoint in {root} ({len(skipped)} damaged); the run cannot "
                              "continue, start it again without --resume (with --overwrite)")
    return checkpoint


def _agree(accelerator: Any, flag: bool) -> bool:
    """True on every process when ``flag`` is true on any (one collective; free on one process)."""
    if accelerator.num_processes == 1:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(value, reduction="sum").item() > 0)


def _warn_changed_settings(folder: RunFolder, cfg: RunConfig, accelerator: Any, console: Console) -> None:
    saved = folder.saved_config()
    if saved is None or not accelerator.is_main_process:
        return
    current = cfg.model_dump(mode="json")
    if not current["model"]["args"]:  # a config without model.args means the defaults the saved run recorded
        current["model"]["args"] = saved.get("model", {}).get("args", {})
    changed = [k for k in RESUME_SENSITIVE if dotted_get(saved, k) != dotted_get(current, k)]
    if changed:
        console.print(f"[yellow]warning:[/] resuming with changed settings ({', '.join(changed)}); the result will "
                      "differ from an uninterrupted run with either config", highlight=False)


def _restore_best(parts: TrainParts, folder: RunFolder, accelerator: Any, console: Console) -> None:
    """``trainer.final_weights: best``: put the best validation's weights back into the model before saving."""
    best = folder.checkpoints / BEST
    if parts.state.best_step is None or not best.is_dir():
        if accelerator.is_main_process:
            console.print("note: trainer.final_weights is 'best' but no validation ran; saving the last step's "
                          "weights", highlight=False)
        return
    accelerator.wait_for_everyone()
    weights = resolve_weights(best)
    accelerator.unwrap_model(parts.model).load_state_dict(weights.state, strict=True)
    if accelerator.is_main_process:
        console.print(f"final weights: the best validation's (step {parts.state.best_step}, "
                      f"{parts.validation.best_metric if parts.validation else 'loss'} {parts.state.best_value:.4g})",
                      highlight=False)


def _save_final_weights(folder: RunFolder, accelerator: Any, model: nn.Module, name: str, result: TrainResult,
                        console: Console) -> None:
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        try:
            save_weights(accelerator.unwrap_model(model), folder.weights, name,
                         {"step": result.step, "epoch": result.epoch})
        except RunFailure as exc:
            raise RunFailure(f"{exc.message}; the checkpoints in {folder.checkpoints} are intact") from None
        console.print(f"saved {folder.weights}", highlight=False)
    accelerator.wait_for_everyone()


def _summary(model_name: str, result: TrainResult) -> dict[str, Any]:
    return {
        "model": model_name, "step": result.step, "epoch": result.epoch, "exit_code": result.exit_code,
        "best_metric": result.best_metric, "best_mode": result.best_mode, "best_value": result.best_value,
        "best_step": result.best_step, "steps_per_second": result.steps_per_second, "validation": result.history,
    }


def _record_test(folder: RunFolder, report: TestReport, is_main: bool) -> None:
    """Add a test phase's mean ± std to the run's ``metrics.json`` (main process only)."""
    if is_main:
        folder.update_metrics({f"test_{report.kind}": {"summary": report.summary,
                                                       "rows": str(report.out_dir / "per_image.csv")}})

