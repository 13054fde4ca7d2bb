"""Tensorboard through Accelerate's tracker: scalars, images, feature maps and the config as text."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from torch import Tensor, nn

from rsmif_core.ops.visuals import composite, error_map, feature_grid, rgb_bands, stretch_limits
from rsmif_core.types import Batch

TRACKER = "tensorboard"


def flatten_config(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to scalars (lists and None as text): tensorboard's hparams accept nothing nested."""
    out: dict[str, Any] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            out.update(flatten_config(value, f"{prefix}{key}."))
        return out
    key = prefix.rstrip(".")
    out[key] = tree if isinstance(tree, (int, float, str, bool)) else str(tree)
    return out


class RunLogger:
    """Writes only on the main process (Accelerate's trackers exist there only)."""

    def __init__(self, accelerator: Any, enabled: bool) -> None:
        self.accelerator = accelerator
        self.enabled = enabled and accelerator.is_main_process
        self._writer: Any = None
        if self.enabled:
            self._writer = accelerator.get_tracker(TRACKER, unwrap=True)

    @property
    def logdir(self) -> str | None:
        return getattr(self._writer, "log_dir", None) if self._writer is not None else None

    def scalars(self, values: dict[str, float], step: int) -> None:
        if self.enabled:
            self.accelerator.log(values, step=step)

    def text(self, tag: str, text: str, step: int = 0) -> None:
        if self._writer is not None:
            self._writer.add_text(tag, text, step)

    def image(self, tag: str, image: Tensor, step: int) -> None:
        if self._writer is not None:
            self._writer.add_image(tag, image, step, dataformats="CHW")

    def scene(self, prefix: str, fused: Tensor, batch: Batch, step: int) -> None:
        """RGB composites of lms, fused and gt of the first image, one stretch for all, and the error map."""
        if self._writer is None:
            return
        bands = rgb_bands(batch.meta.sensor, batch.spectral_bands)
        reference = batch.gt[0] if batch.gt is not None else batch.lms[0]
        limits = stretch_limits(reference[list(bands)])
        self.image(f"{prefix}/lms", composite(batch.lms[0], bands, limits), step)
        self.image(f"{prefix}/fused", composite(fused[0], bands, limits), step)
        if batch.gt is not None:
            self.image(f"{prefix}/gt", composite(batch.gt[0], bands, limits), step)
            self.image(f"{prefix}/error", error_map(fused[0], batch.gt[0]), step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()


def check_feature_modules(model: nn.Module, names: Sequence[str]) -> None:
    known = dict(model.named_modules())
    for name in names:
        if name not in known:
            listing = ", ".join(n for n in known if n) or "none"
            raise ValueError(f"trainer.log_features: the model has no module {name!r}; its modules are: {listing}")


@contextmanager
def capture_features(model: nn.Module, names: Sequence[str]) -> Iterator[dict[str, Tensor]]:
    """Forward hooks that keep the first image's output of each named module while the block runs."""
    captured: dict[str, Tensor] = {}
    modules = dict(model.named_modules())
    handles = []
    for name in names:

        def hook(_: nn.Module, __: Any, output: Any, _name: str = name) -> None:
            tensor = output[0] if isinstance(output, (tuple, list)) else output
            if isinstance(tensor, Tensor) and tensor.ndim == 4 and _name not in captured:
                captured[_name] = tensor[0].detach().float().cpu()

        handles.append(modules[name].register_forward_hook(hook))
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def log_features(logger: RunLogger, captured: dict[str, Tensor], step: int) -> None:
    for name, features in captured.items():
        logger.image(f"features/{name}", feature_grid(features), step)
