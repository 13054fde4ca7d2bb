"""Build the dataset and the model a config names; the model's band counts and ratio come from the data."""

from __future__ import annotations

import os
from typing import Any

import torch

from rsmif_core.config.schema import DatasetSection, RunConfig
from rsmif_core.factory import create_dataset, create_model
from rsmif_core.training.errors import TrainingError


def build_dataset(section: DatasetSection, split: str) -> Any:
    try:
        return create_dataset(section.name, **section.args)
    except Exception as exc:
        raise TrainingError(f"data.{split} ({section.name}): {type(exc).__name__}: {exc}", exit_code=2) from None


def build_model_for(cfg: RunConfig, dataset: Any) -> torch.nn.Module:
    for attr in ("spectral_bands", "guide_bands", "ratio"):
        if not hasattr(dataset, attr):
            raise TrainingError(f"dataset {type(dataset).__name__} has no attribute {attr!r} (see the dataset contract)", 2)
    try:
        return create_model(
            cfg.model.name,
            spectral_bands=int(dataset.spectral_bands),
            guide_bands=int(dataset.guide_bands),
            ratio=int(dataset.ratio),
            **cfg.model.args,
        )
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"model {cfg.model.name!r}: {exc}", exit_code=2) from None


def use_cpu(configured: bool) -> bool:
    """Whether to ask Accelerate for the CPU.

    Accelerate recognises a multi-process launch (torchrun, ``accelerate launch``) on a machine without
    an accelerator only when ``cpu=True``; without it every process would train alone on the full data
    and write the same files. So a launched run with no GPU/XPU/… goes to the CPU explicitly.
    """
    if configured:
        return True
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1 or int(os.environ.get("LOCAL_RANK", "-1")) >= 0
    accelerator = getattr(torch, "accelerator", None)
    has_device = torch.cuda.is_available() or bool(accelerator is not None and accelerator.is_available())
    return launched and not has_device


def fresh_accelerator_state() -> None:
    """Let a second run in the same interpreter choose its own precision (Accelerate keeps one global state).

    Only the per-run part is reset; the process group (``PartialState``) of a distributed launch stays.
    """
    from accelerate.state import AcceleratorState, GradientState

    for state in (AcceleratorState, GradientState):
        reset = getattr(state, "_reset_state", None)
        if callable(reset):
            reset()
