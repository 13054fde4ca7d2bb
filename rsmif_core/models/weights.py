"""Model weights: safetensors files that carry what rebuilds their model, and the model's signature.

A weights file holds the state_dict and, in its metadata, the registered model name, the band counts, the
ratio and the constructor arguments (defaults included): everything needed to build the same model again
and to refuse loading weights into a model they do not fit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from rsmif_core.io import atomic_write
from rsmif_core.types import FusionModel

SIGNATURE_KEYS = ("model", "spectral_bands", "guide_bands", "ratio", "arguments")


def plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples become lists), so signatures compare after a round trip."""
    return json.loads(json.dumps(value, default=str))


def model_signature(name: str, model: Any) -> dict[str, Any]:
    """What weights or a checkpoint must match to be loaded into ``model``: name, geometry and the arguments
    that shape its computation (those a model lists in ``speed_arguments`` only change speed or memory)."""
    speed = set(getattr(model, "speed_arguments", ()))
    arguments = {k: v for k, v in getattr(model, "arguments", {}).items() if k not in speed}
    return {
        "model": name,
        "spectral_bands": int(model.spectral_bands),
        "guide_bands": int(model.guide_bands),
        "ratio": int(model.ratio),
        "arguments": plain(arguments),
    }


def describe_mismatch(found: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """A sentence naming every field where saved weights differ from the configured model, or None."""
    diffs = []
    for key in SIGNATURE_KEYS:
        if key not in found:
            continue
        if key == "arguments":
            saved, configured = found[key] or {}, expected.get(key) or {}
            diffs += [f"argument {k} {saved[k]!r} (configured: {configured[k]!r})"
                      for k in sorted(set(saved) & set(configured)) if saved[k] != configured[k]]
        elif found.get(key) != expected.get(key):
            diffs.append(f"{key} {found.get(key)!r} (configured: {expected.get(key)!r})")
    return "; ".join(diffs) if diffs else None


def save_weights(model: FusionModel, path: Path, name: str, extra: dict[str, Any] | None = None) -> None:
    """Write ``model``'s state_dict atomically, with what is needed to rebuild it in the metadata."""
    meta = {**model_signature(name, model), "arguments": plain(model.arguments), **(extra or {})}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata={"rsmif": json.dumps(meta, default=str)}))


def read_metadata(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    return json.loads(meta.get("rsmif", "{}"))


def load_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    return load_file(str(path)), read_metadata(path)
