"""Build the parts a config names: datasets, the model (its band counts and ratio from the data), the loss,
the metric sets, and the Accelerator with the run's threads, precision and seed."""

from __future__ import annotations

import os
import shutil
from typing import Any

import torch
from rich.console import Console

from rsmif_core.config.environment import read_environment, require_deterministic_cublas
from rsmif_core.config.schema import DatasetSection, EvalSection, RunConfig, RuntimeSection
from rsmif_core.errors import RsmifError, UsageError
from rsmif_core.evaluation.scoring import MetricSet
from rsmif_core.ops.mtf import ms_gains
from rsmif_core.plugins.factory import create_dataset, create_loss, create_model
from rsmif_core.plugins.manager import registry
from rsmif_core.run.cpu_memory import keep_freed_cpu_memory


def build_dataset(section: DatasetSection, split: str) -> Any:
    """The dataset of ``data.<split>``; any failure is a usage error naming the split and the dataset."""
    try:
        return create_dataset(section.name, **section.args)
    except RsmifError as exc:
        raise UsageError(f"data.{split} ({section.name}): {exc.message}") from None
    except Exception as exc:
        raise UsageError(f"data.{split} ({section.name}): {type(exc).__name__}: {exc}") from None


def build_model(cfg: RunConfig, dataset: Any) -> torch.nn.Module:
    """``cfg.model`` built for ``dataset``'s band counts and ratio, after checking it supports the task."""
    for attr in ("spectral_bands", "guide_bands", "ratio"):
        if not hasattr(dataset, attr):
            raise UsageError(f"dataset {type(dataset).__name__} has no attribute {attr!r} (see FusionDataset)")
    entry = registry().get("models", cfg.model.name)
    task = getattr(dataset, "task", None)
    if task is not None and entry.tasks and task not in entry.tasks:
        raise UsageError(f"model {cfg.model.name!r} supports the tasks {', '.join(entry.tasks)}, not {task!r} "
                         "(the task of the configured data)")
    try:
        model = create_model(cfg.model.name, spectral_bands=int(dataset.spectral_bands),
                             guide_bands=int(dataset.guide_bands), ratio=int(dataset.ratio), **cfg.model.args)
    except RsmifError:
        raise
    except (TypeError, ValueError) as exc:
        raise UsageError(f"model {cfg.model.name!r}: {exc}") from None
    return model


def build_loss(cfg: RunConfig) -> Any:
    try:
        return create_loss(cfg.loss.name, **cfg.loss.args)
    except RsmifError:
        raise
    except (TypeError, ValueError) as exc:
        raise UsageError(f"loss {cfg.loss.name!r}: {exc}") from None


def build_metrics(names: list[str], options: EvalSection, runtime: RuntimeSection, dataset: Any, key: str) -> MetricSet:
    """The named metrics for ``dataset`` (the reference-free ones only when it has no reference). Indices that
    filter with the sensor's MTF take the data's own gains or sensor unless ``eval.sensor`` overrides them;
    gains that do not fit the data's band count are an error here, before any work."""
    if any(getattr(registry().get("metrics", n).factory, "uses_sensor", False) for n in names):
        check_mtf_gains(options.sensor, dataset, key)
    has_reference = bool(getattr(dataset, "has_reference", True))
    try:
        return MetricSet(names, options, str(getattr(dataset, "sensor", "none")), has_reference, runtime.metric_kernels)
    except RsmifError as exc:
        raise UsageError(f"{key}: {exc.message}") from None


def check_mtf_gains(override: str | None, dataset: Any, key: str) -> None:
    bands = int(dataset.spectral_bands)
    gains = getattr(dataset, "mtf_gains", None)
    if override is None and gains is not None:
        if len(gains) != bands:
            raise UsageError(f"{key}: the data records {len(gains)} MTF gains for {bands} bands")
        return
    sensor = override if override is not None else str(getattr(dataset, "sensor", "none"))
    try:
        ms_gains(sensor, bands)
    except ValueError as exc:
        where = "eval.sensor" if override is not None else f"{key}: the data's sensor"
        fix = ("remove eval.sensor to use the data's own sensor or gains" if override is not None
               else "set eval.sensor to a sensor whose MTF table fits, or to 'none' for the generic gains")
        raise UsageError(f"{where} {sensor!r}: {exc}; {fix}") from None


def needs_reference(metric: str) -> bool:
    return bool(getattr(registry().get("metrics", metric).factory, "needs_reference", True))


def use_cpu(configured: bool) -> bool:
    """Whether to ask Accelerate for the CPU.

    Accelerate recognises a multi-process launch (torchrun, ``accelerate launch``) on a machine without
    an accelerator only when ``cpu=True``; without it every process would train alone on the full data
    and write the same files. So a launched run with no GPU/XPU/… goes to the CPU explicitly.
    """
    if configured:
        return True
    accelerator = getattr(torch, "accelerator", None)
    has_device = torch.cuda.is_available() or bool(accelerator is not None and accelerator.is_available())
    return read_environment().distributed_launch and not has_device


def fresh_accelerator_state() -> None:
    """Let a second run in the same interpreter choose its own precision (Accelerate keeps one global state).

    Only the per-run part is reset; the process group (``PartialState``) of a distributed launch stays.
    """
    from accelerate.state import AcceleratorState, GradientState

    for state in (AcceleratorState, GradientState):
        reset = getattr(state, "_reset_state", None)
        if callable(reset):
            reset()


def loader_workers(section: DatasetSection, key: str, console: Console | None = None) -> int:
    """DataLoader processes for a data section: the configured number, at most one per CPU core (more only
    compete with the main process, and torch warns), or by default 0 on machines with 2 cores or fewer
    (workers there slow training down) and half the cores, up to 4, elsewhere."""
    cores = os.cpu_count() or 1
    if section.num_workers is None:
        return 0 if cores <= 2 else min(4, cores // 2)
    if section.num_workers > cores:
        if console is not None:
            console.print(f"note: {key}.num_workers {section.num_workers} is more than this machine's {cores} CPU "
                          f"cores; using {cores}", highlight=False)
        return cores
    return section.num_workers


def apply_runtime(runtime: RuntimeSection) -> None:
    """The run's CPU threads and CPU memory reuse (set once, before any work)."""
    if runtime.threads is not None:
        torch.set_num_threads(runtime.threads)
    if runtime.cpu_memory == "reuse":
        keep_freed_cpu_memory()


def make_accelerator(cfg: RunConfig, **options: Any) -> Any:
    """An Accelerator for ``cfg`` (device, precision, accumulation); ``options`` go to its constructor."""
    from accelerate import Accelerator

    if cfg.trainer.deterministic:
        require_deterministic_cublas()
    fresh_accelerator_state()
    return Accelerator(cpu=use_cpu(cfg.trainer.cpu), mixed_precision=cfg.trainer.mixed_precision, **options)


def maybe_compile(model: torch.nn.Module, runtime: RuntimeSection, console: Console, device_type: str = "cpu"
                  ) -> torch.nn.Module:
    """``runtime.compile``: compile the model in place where torch.compile works here, else run eagerly."""
    if not runtime.compile:
        return model
    problem = compiler_problem(device_type)
    if problem is not None:
        console.print(f"[yellow]note:[/] runtime.compile: {problem}; running the model eagerly", highlight=False)
        return model
    # static shapes: each input size compiles its own graph (past torch's cache limit, that size runs eagerly);
    # the symbolic-shape path failed inside inductor on MMAPP's pyramid (torch 2.13)
    model.compile(dynamic=False)
    return model


def compiler_problem(device_type: str = "cpu") -> str | None:
    """Why torch.compile cannot run here, or None. On a CPU its generated code needs a C++ compiler; the
    check is cheap on purpose (a trial compilation takes tens of seconds)."""
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        return "torch.compile does not support this Python/torch build"
    if device_type == "cpu" and shutil.which("c++") is None and shutil.which("g++") is None:
        return "no C++ compiler found for torch.compile's CPU code"
    return None
