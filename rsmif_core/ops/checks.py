"""Input checks shared by the numerical ops."""

from __future__ import annotations

from torch import Tensor


def check_image(x: Tensor, name: str = "x") -> None:
    """Raise a clear error unless ``x`` is a floating-point B×C×H×W tensor."""
    if not isinstance(x, Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name}: expected a B×C×H×W tensor, found {shape}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, found {x.dtype}; convert with .double()")
