"""Find and load the weights a test points at, check they fit the configured model; convert the authors' .pth."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from rsmif_core.errors import CheckpointError
from rsmif_core.models.weights import describe_mismatch, model_signature, read_metadata, save_weights
from rsmif_core.plugins.factory import create_model
from rsmif_core.run.folder import RunFolder
from rsmif_core.training.checkpoints import META_FILE
from rsmif_core.types import unwrap_authors_checkpoint


@dataclass
class ResolvedWeights:
    path: Path
    state: dict[str, torch.Tensor]
    meta: dict[str, Any]
    authors_format: bool = False


def find_weights_file(source: Path) -> tuple[Path, dict[str, Any] | None]:
    """A run folder -> its final model, else ``best/``, else the latest step; a checkpoint folder -> its model."""
    if not source.exists():
        raise CheckpointError(f"{source}: no such checkpoint file or run folder")
    if source.is_file():
        return source, None
    if (source / META_FILE).is_file():
        return source / "model.safetensors", json.loads((source / META_FILE).read_text(encoding="utf-8"))
    return RunFolder(source).find_weights()


def _load_authors(path: Path) -> ResolvedWeights:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        return ResolvedWeights(path, unwrap_authors_checkpoint(obj), {}, authors_format=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path}: not a loadable state_dict ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
            "Only plain tensor files are read; a checkpoint that pickles code must first be re-saved as a plain "
            "state_dict (torch.save(model.state_dict(), path)) by the code that wrote it"
        ) from None


def resolve_weights(source: Path) -> ResolvedWeights:
    path, folder_meta = find_weights_file(source)
    if path.suffix in (".pth", ".pt"):
        return _load_authors(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; the checkpoint is incomplete")
    try:
        state = load_file(str(path))
        meta = folder_meta if folder_meta is not None else read_metadata(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable safetensors file ({exc})") from None
    return ResolvedWeights(path, {k.removeprefix("module."): v for k, v in state.items()}, meta)


def load_into(model: Any, name: str, weights: ResolvedWeights) -> None:
    """Load weights into ``model`` after checking name, band counts, ratio and arguments; one clear error otherwise."""
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


def convert_authors_checkpoint(
    method: str, source: Path, destination: Path, spectral_bands: int, guide_bands: int, ratio: int
) -> int:
    """Load an authors' checkpoint safely, map it onto our model (strict) and save it as safetensors."""
    state = _load_authors(source).state
    model = create_model(method, spectral_bands=spectral_bands, guide_bands=guide_bands, ratio=ratio)
    try:
        model.load_authors_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).strip().splitlines()[:3])
        raise CheckpointError(f"{source}: the weights do not fit model {method!r} "
                              f"({spectral_bands} bands, guide {guide_bands}, ratio {ratio}): {detail}") from None
    save_weights(model, destination, method, {"converted_from": source.name})
    return len(model.state_dict())
