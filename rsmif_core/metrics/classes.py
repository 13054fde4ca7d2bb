"""torchmetrics ``Metric`` classes over the functional indices, following the core's metric contract.

``update(fused, batch)`` takes the fused image in the batch's [0, 1] scale. Indices that depend on the
radiometric scale get the DN scale (``x · batch.meta.max_value``): Q2n and D_λ^K quantise like MATLAB
``uint16`` there, and clipping uses the toolbox's ``2^L``. RMSE is reported in the [0, 1] scale and PSNR
and SSIM use ``data_range = 1`` there, as the RSMIF papers do. ``compute()`` returns the per-image values
(a 1-D float64 tensor; the state is reduced with "cat", so distributed runs gather every image);
:func:`mean_std` gives the papers' "mean ± std".

Options every factory accepts: ``sensor=None`` (default: ``batch.meta.sensor``), ``border=0`` (toolbox
``dim_cut``; 21 in the 2021 benchmark), ``clip=False`` (``True``: the toolbox's ``th_values``, fused
clipped to [0, 2^L] on the DN scale with 2^L = max_value + 1 for max_value = 2^L − 1; a number ``hi`` or
a pair ``(lo, hi)`` on the DN scale), ``block_size=32``, ``protocol="toolbox"`` (or ``"authors"``),
``kernels="numba"`` (or ``"torch"``: see :mod:`rsmif_core.metrics.functional`) and torchmetrics'
``sync_on_compute=True``. Options an index does not use are ignored.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from rsmif_core.metrics import functional as fn
from rsmif_core.metrics.checks import ClipSpec, MetricInputError, check_protocol
from rsmif_core.metrics.moments import KERNELS, Kernels
from rsmif_core.ops.mtf import canonical_sensor
from rsmif_core.types import Batch


@dataclass
class ScoreInputs:
    """What an index may need besides the fused image, in the [0, 1] scale (a Batch without its checks)."""

    gt: Tensor | None = None
    pan: Tensor | None = None
    ms: Tensor | None = None
    lms: Tensor | None = None
    ratio: int = 4
    sensor: str | None = "none"
    max_value: float = 1.0
    mtf_gains: tuple[float, ...] | None = None  # the data's per-band Nyquist gains, when it records them

    @classmethod
    def from_batch(cls, batch: Batch) -> ScoreInputs:
        m = batch.meta
        assert m.ratio is not None  # a validated Batch always knows its ratio
        gains = None if m.mtf_gains is None else tuple(float(g) for g in m.mtf_gains)
        return cls(batch.gt, batch.pan, batch.ms, batch.lms, m.ratio, m.sensor, float(m.max_value), gains)


def mean_std(values: Tensor) -> tuple[float, float]:
    """Mean and (population, numpy-default) standard deviation over images, as the papers report them."""
    v = values.detach().to(torch.float64).flatten()
    if v.numel() == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(unbiased=False)) if v.numel() > 1 else 0.0


def toolbox_clip_bound(max_value: float) -> float:
    """The toolbox's 2^L for data whose maximum is 2^L − 1 (2047 -> 2048); otherwise ``max_value`` itself."""
    top = max_value + 1
    if max_value > 1 and float(top).is_integer() and int(top) & (int(top) - 1) == 0:
        return float(top)
    return float(max_value)


class QualityMetric(Metric):
    """Base of every RSMIF quality index: per-image values in a "cat" state."""

    needs_reference: ClassVar[bool] = True
    higher_is_better = True
    is_differentiable = False
    full_state_update = False
    index_name: ClassVar[str] = ""
    uses_sensor: ClassVar[bool] = False  # only the MTF-based indices check the sensor name

    values: list[Tensor]

    def __init__(self, sensor: str | None = None, border: int = 0, clip: bool | ClipSpec = False, block_size: int = 32,
                 protocol: str = "toolbox", kernels: Kernels = "numba", sync_on_compute: bool = True) -> None:
        super().__init__(sync_on_compute=sync_on_compute)
        check_protocol(protocol)
        if kernels not in KERNELS:
            raise MetricInputError(f"kernels={kernels!r}: expected one of {', '.join(KERNELS)}")
        self.kernels: Kernels = kernels
        if sensor is not None and self.uses_sensor:
            canonical_sensor(sensor)  # fail early, listing the known sensors
        self.sensor = sensor
        self.border = int(border)
        self.clip = clip
        self.block_size = int(block_size)
        self.protocol = protocol
        self.add_state("values", default=[], dist_reduce_fx="cat")

    # -- helpers -------------------------------------------------------------------------------
    def _dn_clip(self, max_value: float) -> ClipSpec:
        if self.clip is False or self.clip is None:
            return None
        if self.clip is True:
            return toolbox_clip_bound(max_value)
        return self.clip

    def _unit_clip(self, max_value: float) -> ClipSpec:
        bounds = self._dn_clip(max_value)
        if bounds is None:
            return None
        if isinstance(bounds, (int, float)):
            return float(bounds) / max_value
        return tuple(float(b) / max_value for b in bounds)

    def _sensor(self, inp: ScoreInputs) -> str | tuple[float, ...]:
        """The MTF gains to use: the ``sensor`` option's when set, else the data's own gains, else its sensor's."""
        if self.sensor is not None:
            return self.sensor
        return inp.mtf_gains if inp.mtf_gains is not None else (inp.sensor or "none")

    def _reference(self, fused: Tensor, inp: ScoreInputs) -> Tensor:
        if inp.gt is None:
            raise MetricInputError(
                f"metric {self.index_name!r} needs a reference (gt) but this batch has none; "
                "use the no-reference metrics (d_lambda, d_s, qnr, d_lambda_k, hqnr) for full-resolution data"
            )
        if fused.shape != inp.gt.shape:
            raise MetricInputError(
                f"metric {self.index_name!r}: fused {tuple(fused.shape)} does not match gt {tuple(inp.gt.shape)}"
            )
        return inp.gt

    def _pan(self, inp: ScoreInputs) -> Tensor:
        if inp.pan is None:
            raise MetricInputError(f"metric {self.index_name!r} needs the PAN image")
        if inp.pan.shape[1] != 1:
            raise MetricInputError(
                f"metric {self.index_name!r} needs a single-band PAN guide; this guide has {inp.pan.shape[1]} bands"
            )
        return inp.pan

    def _ms(self, inp: ScoreInputs) -> Tensor:
        if inp.ms is None:
            raise MetricInputError(f"metric {self.index_name!r} needs the low-resolution MS image")
        return inp.ms

    def _lms(self, inp: ScoreInputs, m: float) -> Tensor | None:
        return None if inp.lms is None else inp.lms.double() * m

    # -- torchmetrics ----------------------------------------------------------------------------
    def update(self, fused: Tensor, batch: Batch) -> None:  # type: ignore[override]
        if not isinstance(batch, Batch):
            raise MetricInputError(f"metric {self.index_name!r}: update(fused, batch) needs an rsmif Batch, found {type(batch).__name__}")
        with torch.no_grad():
            value = self.score(fused.detach(), ScoreInputs.from_batch(batch))
        self.values.append(value.to(torch.float64))

    def compute(self) -> Tensor:
        if not self.values:
            return torch.zeros(0, dtype=torch.float64, device=self.device)
        return dim_zero_cat(self.values)

    def score(self, fused: Tensor, inp: ScoreInputs) -> Tensor:
        """Per-image values (B,) for one batch (fused and inputs in the [0, 1] scale)."""
        raise NotImplementedError


class _Reduced(QualityMetric):
    """Reduced-resolution index computed on the DN scale from (fused, gt)."""

    def score(self, fused: Tensor, inp: ScoreInputs) -> Tensor:
        gt = self._reference(fused, inp)
        m = float(inp.max_value)
        return self.index(fused.double() * m, gt.double() * m, inp, self._dn_clip(m))

    def index(self, fused: Tensor, reference: Tensor, inp: ScoreInputs, clip: ClipSpec) -> Tensor:
        raise NotImplementedError


class SAM(_Reduced):
    """Spectral angle mapper (degrees)."""

    index_name = "sam"
    higher_is_better = False

    def index(self, fused: Tensor, reference: Tensor, inp: ScoreInputs, clip: ClipSpec) -> Tensor:
        return fn.sam(fused, reference, border=self.border, clip=clip, protocol=self.protocol, kernels=self.kernels)


class ERGAS(_Reduced):
    """ERGAS (ratio from the batch)."""

    index_name = "ergas"
    higher_is_better = False

    def index(self, fused: Tensor, reference: Tensor, inp: ScoreInputs, clip: ClipSpec) -> Tensor:
        return fn.ergas(fused, reference, inp.ratio, border=self.border, clip=clip, protocol=self.protocol, kernels=self.kernels)


class QIndex(_Reduced):
    """UIQI averaged over sliding blocks and bands (toolbox Q)."""

    index_name = "q_index"

    def index(self, fused: Tensor, reference: Tensor, inp: ScoreInputs, clip: ClipSpec) -> Tensor:
        return fn.q_index(fused, reference, self.block_size, border=self.border, clip=clip, protocol=self.protocol, kernels=self.kernels)


class Q2n(_Reduced):
    """Q2n / Q4 / Q8 (hypercomplex UIQI, block = shift = block_size), on the DN scale."""

    index_name = "q2n"

    def index(self, fused: Tensor, reference: Tensor, inp: ScoreInputs, clip: ClipSpec) -> Tensor:
        quantise = _quantisable(inp.max_value, self.index_name)
        return fn.q2n(fused, reference, self.block_size, self.block_size, border=self.border, clip=clip,
                      quantise=quantise, protocol=self.protocol, kernels=self.kernels)


class SCC(_Reduced):
    """Spatial correlation coefficient (Sobel magnitudes)."""

    index_name = "scc"

    def index(self, fused: Tensor, reference: Tensor, inp: ScoreInputs, clip: ClipSpec) -> Tensor:
        return fn.scc(fused, reference, border=self.border, clip=clip, protocol=self.protocol, kernels=self.kernels)


class CC(_Reduced):
    """Per-band Pearson correlation, mean over bands."""

    index_name = "cc"

    def index(self, fused: Tensor, reference: Tensor, inp: ScoreInputs, clip: ClipSpec) -> Tensor:
        return fn.cc(fused, reference, border=self.border, clip=clip, protocol=self.protocol, kernels=self.kernels)


class RASE(_Reduced):
    """Relative average spectral error (%)."""

    index_name = "rase"
    higher_is_better = False

    def index(self, fused: Tensor, reference: Tensor, inp: ScoreInputs, clip: ClipSpec) -> Tensor:
        return fn.rase(fused, reference, border=self.border, clip=clip, protocol=self.protocol, kernels=self.kernels)


class _UnitScale(QualityMetric):
    """Indices reported in the [0, 1] scale of the batch (RMSE, PSNR and SSIM with data_range 1)."""

    def score(self, fused: Tensor, inp: ScoreInputs) -> Tensor:
        gt = self._reference(fused, inp)
        return self.index(fused.double(), gt.double(), self._unit_clip(float(inp.max_value)))

    def index(self, fused: Tensor, reference: Tensor, clip: ClipSpec) -> Tensor:
        raise NotImplementedError


class PSNR(_UnitScale):
    """PSNR (dB), per band with data_range 1 in the [0, 1] scale, mean over bands."""

    index_name = "psnr"

    def index(self, fused: Tensor, reference: Tensor, clip: ClipSpec) -> Tensor:
        return fn.psnr(fused, reference, 1.0, border=self.border, clip=clip, protocol=self.protocol, kernels=self.kernels)


class SSIM(_UnitScale):
    """SSIM with data_range 1 in the [0, 1] scale, mean over bands."""

    index_name = "ssim"

    def index(self, fused: Tensor, reference: Tensor, clip: ClipSpec) -> Tensor:
        return fn.ssim(fused, reference, 1.0, border=self.border, clip=clip, protocol=self.protocol, kernels=self.kernels)


class RMSE(_UnitScale):
    """Root mean squared error in the [0, 1] scale."""

    index_name = "rmse"
    higher_is_better = False

    def index(self, fused: Tensor, reference: Tensor, clip: ClipSpec) -> Tensor:
        return fn.rmse(fused, reference, border=self.border, clip=clip, protocol=self.protocol, kernels=self.kernels)


class _Full(QualityMetric):
    """No-reference index computed on the DN scale from (fused, pan, ms, lms) of the batch."""

    needs_reference = False

    def score(self, fused: Tensor, inp: ScoreInputs) -> Tensor:
        m = float(inp.max_value)
        return self.index(fused.double() * m, inp, m, self._dn_clip(m))

    def index(self, fused: Tensor, inp: ScoreInputs, m: float, clip: ClipSpec) -> Tensor:
        raise NotImplementedError


class DLambda(_Full):
    """QNR spectral distortion D_λ (blockwise UIQI between band pairs, upsampled MS)."""

    index_name = "d_lambda"
    higher_is_better = False

    def index(self, fused: Tensor, inp: ScoreInputs, m: float, clip: ClipSpec) -> Tensor:
        return fn.d_lambda(fused, self._ms(inp).double() * m, self.block_size, lms=self._lms(inp, m), clip=clip,
                           protocol=self.protocol, kernels=self.kernels)


class DS(_Full):
    """QNR spatial distortion D_s."""

    index_name = "d_s"
    higher_is_better = False

    def index(self, fused: Tensor, inp: ScoreInputs, m: float, clip: ClipSpec) -> Tensor:
        return fn.d_s(fused, self._pan(inp).double() * m, self._ms(inp).double() * m, inp.ratio, self.block_size,
                      lms=self._lms(inp, m), clip=clip, protocol=self.protocol, kernels=self.kernels)


class QNR(_Full):
    """QNR = (1 − D_λ)(1 − D_s)."""

    index_name = "qnr"

    def index(self, fused: Tensor, inp: ScoreInputs, m: float, clip: ClipSpec) -> Tensor:
        return fn.qnr(fused, self._pan(inp).double() * m, self._ms(inp).double() * m, inp.ratio, self.block_size,
                      lms=self._lms(inp, m), clip=clip, protocol=self.protocol, kernels=self.kernels)


class DLambdaK(_Full):
    """Khan's D_λ^K (MTF-filtered fused vs upsampled MS through Q2n), on the DN scale."""

    index_name = "d_lambda_k"
    higher_is_better = False
    uses_sensor = True

    def index(self, fused: Tensor, inp: ScoreInputs, m: float, clip: ClipSpec) -> Tensor:
        quantise = _quantisable(m, self.index_name)
        return fn.d_lambda_k(fused, self._ms(inp).double() * m, inp.ratio, self._sensor(inp), self.block_size,
                             lms=self._lms(inp, m), clip=clip, quantise=quantise, protocol=self.protocol, kernels=self.kernels)


class HQNR(_Full):
    """Hybrid QNR = (1 − D_λ^K)(1 − D_s), the 2021 benchmark's default full-resolution index."""

    index_name = "hqnr"
    uses_sensor = True

    def index(self, fused: Tensor, inp: ScoreInputs, m: float, clip: ClipSpec) -> Tensor:
        quantise = _quantisable(m, self.index_name)
        return fn.hqnr(fused, self._pan(inp).double() * m, self._ms(inp).double() * m, inp.ratio,
                       self._sensor(inp), self.block_size, lms=self._lms(inp, m), clip=clip,
                       quantise=quantise, protocol=self.protocol, kernels=self.kernels)


def _quantisable(max_value: float, name: str) -> bool:
    """Q2n quantises to integers like MATLAB ``uint16``; on data without a DN scale (max_value <= 1) that
    would destroy the image, so the documented result there is Q2n without quantisation (and a warning)."""
    if max_value > 1:
        return True
    warnings.warn(
        f"metric {name!r}: max_value {max_value} gives no DN scale; computing Q2n without uint16 quantisation "
        "(set the dataset's max_value, e.g. 2047 for 11-bit data, to match the toolbox)",
        stacklevel=3,
    )
    return False


METRICS: dict[str, type[QualityMetric]] = {
    cls.index_name: cls
    for cls in (SAM, ERGAS, QIndex, Q2n, SCC, PSNR, SSIM, RMSE, CC, RASE, DLambda, DS, QNR, DLambdaK, HQNR)
}
REDUCED_RESOLUTION: tuple[str, ...] = tuple(n for n, c in METRICS.items() if c.needs_reference)
FULL_RESOLUTION: tuple[str, ...] = tuple(n for n, c in METRICS.items() if not c.needs_reference)
