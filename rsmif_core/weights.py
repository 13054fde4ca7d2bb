"""Model weights: safetensors files with metadata, and conversion of the authors' .pth checkpoints."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from rsmif_core.factory import create_model
from rsmif_core.types import FusionModel, unwrap_authors_checkpoint


def save_weights(model: FusionModel, path: Path, name: str, extra: dict[str, Any] | None = None) -> None:
    """Write ``model``'s state_dict atomically, with what is needed to rebuild it in the metadata."""
    meta = {
        "model": name,
        "spectral_bands": model.spectral_bands,
        "guide_bands": model.guide_bands,
        "ratio": model.ratio,
        "hyper": model.hyper,
        **(extra or {}),
    }
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(state, tmp, metadata={"rsmif": json.dumps(meta, default=str)})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_metadata(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    return json.loads(meta.get("rsmif", "{}"))


def load_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    return load_file(str(path)), read_metadata(path)


def convert_authors_checkpoint(
    method: str, source: Path, destination: Path, spectral_bands: int, guide_bands: int, ratio: int
) -> int:
    """Load an authors' checkpoint safely, map it onto our model (strict) and save it as safetensors."""
    obj = torch.load(source, map_location="cpu", weights_only=True)
    state = unwrap_authors_checkpoint(obj)
    model = create_model(method, spectral_bands=spectral_bands, guide_bands=guide_bands, ratio=ratio)
    model.load_authors_state_dict(state, strict=True)
    save_weights(model, destination, method, {"converted_from": source.name})
    return len(model.state_dict())
