"""The base class of the classical methods: checks, the DN scale, float64, the optional clipping."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

import rsmif_core
from rsmif_classical.common import Scene


class ClassicalModel(rsmif_core.FusionModel):
    """A parameter-free pansharpening method of the toolbox.

    ``forward`` multiplies the [0, 1] inputs back to the data's DN scale (``batch.meta.max_value``), runs
    the method in float64 on the batch's device with the sensor's MTF gains (``batch.meta.mtf_gains``
    when the data records them, else the sensor's table), and returns the fused image divided by the
    same scale, unclipped like the toolbox (``thvalues = 0``) unless ``clip=True`` (then clamped to [0, 1]).
    """

    tasks: ClassVar[tuple[str, ...]] = ("pansharpening", "hyperspectral")
    min_ratio: ClassVar[int] = 2

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio)
        name = type(self).__name__
        if guide_bands != 1:
            raise ValueError(f"{name}: a classical pansharpening method needs a single-band PAN guide, found guide_bands={guide_bands}")
        if ratio < self.min_ratio:
            raise ValueError(f"{name}: needs a PAN/MS scale ratio of at least {self.min_ratio}, found ratio={ratio}")
        self.clip = bool(clip)

    def fuse(self, scene: Scene) -> Tensor:  # pragma: no cover - abstract
        """The method on the DN scale: B×C×H×W float64 fused image."""
        raise NotImplementedError

    def forward(self, batch: rsmif_core.Batch) -> rsmif_core.FusionOutput:
        fused = self.fuse(self.scene(batch))
        scale = float(batch.meta.max_value)
        if self.clip:
            fused = fused.clamp(0.0, scale)
        return rsmif_core.FusionOutput(fused=(fused / scale).to(batch.lms.dtype))

    def scene(self, batch: rsmif_core.Batch) -> Scene:
        name = type(self).__name__
        if batch.guide_bands != 1:
            raise ValueError(f"{name}: expected a single-band PAN, found a guide of {batch.guide_bands} bands")
        if batch.spectral_bands != self.spectral_bands:
            raise ValueError(f"{name}: built for {self.spectral_bands} bands, the batch has {batch.spectral_bands}")
        if int(batch.meta.ratio or 0) != self.ratio:
            raise ValueError(f"{name}: built for ratio {self.ratio}, the batch has ratio {batch.meta.ratio}")
        scale = float(batch.meta.max_value)
        if not scale > 0:
            raise ValueError(f"{name}: batch.meta.max_value must be positive, found {batch.meta.max_value}")
        sensor = rsmif_core.canonical_sensor(batch.meta.sensor)
        if batch.meta.mtf_gains is not None:
            gains = tuple(float(g) for g in batch.meta.mtf_gains)
            if len(gains) != self.spectral_bands:
                raise ValueError(f"{name}: batch.meta.mtf_gains has {len(gains)} gains for {self.spectral_bands} bands")
        else:
            gains = rsmif_core.ms_gains(sensor, self.spectral_bands)

        def dn(x: Tensor) -> Tensor:
            return x.to(torch.float64) * scale

        return Scene(ms=dn(batch.ms), lms=dn(batch.lms), pan=dn(batch.pan), ratio=self.ratio, sensor=sensor, gains=gains)
