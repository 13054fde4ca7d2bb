"""Find and load the weights ``rsmif test --checkpoint`` points at, and check they fit the configured model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from rsmif_core.training.checkpoints import (
    BEST,
    CHECKPOINTS_DIR,
    META_FILE,
    describe_mismatch,
    latest_checkpoint,
    model_signature,
)
from rsmif_core.training.errors import CheckpointError
from rsmif_core.types import unwrap_authors_checkpoint
from rsmif_core.weights import read_metadata


@dataclass
class ResolvedWeights:
    path: Path
    state: dict[str, torch.Tensor]
    meta: dict[str, Any]
    authors_format: bool = False


def find_weights_file(checkpoint: Path) -> tuple[Path, dict[str, Any] | None]:
    """A run folder -> its final model, else ``best/``, else the latest step; a checkpoint folder -> its model."""
    if not checkpoint.exists():
        raise CheckpointError(f"{checkpoint}: no such checkpoint file or run folder")
    if checkpoint.is_file():
        return checkpoint, None
    if (checkpoint / META_FILE).is_file():
        return checkpoint / "model.safetensors", json.loads((checkpoint / META_FILE).read_text(encoding="utf-8"))
    if (checkpoint / "model.safetensors").is_file():
        return checkpoint / "model.safetensors", None
    for folder in (checkpoint / CHECKPOINTS_DIR / BEST, latest_checkpoint(checkpoint)):
        if folder is not None and (folder / META_FILE).is_file():
            return folder / "model.safetensors", json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    raise CheckpointError(
        f"{checkpoint}: no weights found (expected model.safetensors, {CHECKPOINTS_DIR}/{BEST}/ or {CHECKPOINTS_DIR}/step_*/)"
    )


def resolve_weights(checkpoint: Path) -> ResolvedWeights:
    path, folder_meta = find_weights_file(checkpoint)
    if path.suffix in (".pth", ".pt"):
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
            return ResolvedWeights(path, unwrap_authors_checkpoint(obj), {}, authors_format=True)
        except Exception as exc:
            raise CheckpointError(f"{path}: not a loadable state_dict ({type(exc).__name__}: {exc})") from None
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; the checkpoint is incomplete")
    try:
        state = load_file(str(path))
        meta = folder_meta if folder_meta is not None else read_metadata(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable safetensors file ({exc})") from None
    return ResolvedWeights(path, {k.removeprefix("module."): v for k, v in state.items()}, meta)


def load_into(model: Any, name: str, weights: ResolvedWeights) -> None:
    """Load weights into ``model`` after checking name, band counts and ratio; one clear error otherwise."""
    mismatch = describe_mismatch(weights.meta, model_signature(name, model))
    if mismatch:
        raise CheckpointError(f"{weights.path}: checkpoint of another model: {mismatch}")
    try:
        if weights.authors_format:
            model.load_authors_state_dict(weights.state, strict=True)
        else:
            model.load_state_dict(weights.state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise CheckpointError(f"{weights.path}: the weights do not fit model {name!r} as configured: {detail}") from None
