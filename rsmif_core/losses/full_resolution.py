"""Full-resolution (unsupervised) pansharpening losses: no reference image, the data's own scale.

Networks trained on Wald-degraded patches assume fusion is scale-invariant; these losses train (or adapt) a
network on the real PAN and MS instead (Ciotola et al.):

* **Z-PNN** — "Pansharpening by convolutional neural networks in the full resolution framework", IEEE TGRS
  60, 2022: ``L = L_spectral + β·L_structural``;
* **λ-PNN** — "Unsupervised deep learning-based pansharpening with jointly enhanced spectral and spatial
  fidelity", IEEE TGRS 61, 2023: ``L = α·ERGAS + β·(1 − Q2n) + γ·L_structural``;
* **HQNR** — ``L = 1 − (1 − D_λ^K)(1 − D_s)``: the full-resolution index of the 2021 benchmark itself
  (Vivone et al., IEEE GRSM 2021), differentiable, as the QNR-based losses of unsupervised pansharpening
  (e.g. Luo et al., "Pansharpening via unsupervised convolutional neural networks", IEEE JSTARS 2020) use it.
  A network trained or adapted with it is tuned to the index it is scored with, and that index can prefer a
  smoother image to a sharper one: report other indices beside it and look at the result.

Their spectral terms compare the fused image, low-passed with the sensor's MTF filter and decimated
(:func:`degrade`, the one MTF implementation of :mod:`rsmif_core.ops.mtf`), with the MS. Their structural
term (:func:`structural_loss`) asks the local correlation of every fused band with the PAN to be at least
the correlation one expects: that of the upsampled MS band with the low-passed PAN; only the pixels where
it falls short are penalised. The weights default to the papers' per sensor (WorldView-2/3, GeoEye-1);
other sensors take those of the sensor with the same band count (8: WV3, 4: GeoEye-1).

Differences from the authors' code, and why: the MTF filters are the toolbox's (not renormalised to sum 1,
replicate padding, also for the threshold's PAN filter, where theirs reflects); there is no co-registration
shift (its estimate is a separate, optional step in their code); the λ-PNN Q2n uses blocks of 32 (or the
largest power of 2 that fits a smaller MS) on the data's DN scale, without uint16 rounding, which would
stop the gradient.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from rsmif_core.errors import UsageError
from rsmif_core.metrics.functional import d_lambda_k, d_s
from rsmif_core.metrics.q2n import q2n_value
from rsmif_core.ops.correlation import local_correlation
from rsmif_core.ops.mtf import canonical_sensor, decimate, ms_gains, mtf_filter
from rsmif_core.types import Batch, FusionOutput, LossOutput

THRESHOLD_HALF_WIDTH = 8  # the window of the expected correlation (16×16), as in both papers' code
# the papers' weights: Z-PNN's β, λ-PNN's (α, β, γ), per sensor
ZPNN_BETA: Mapping[str, float] = {"WV3": 0.36, "WV2": 0.36, "GeoEye1": 0.25}
LAMBDA_PNN_WEIGHTS: Mapping[str, tuple[float, float, float]] = {
    "WV3": (0.05, 1.25, 5.0), "WV2": (0.05, 1.0, 6.0), "GeoEye1": (0.075, 1.5, 7.0),
}

# the papers' target-adaptation recipes: Adam's learning rate per sensor, its weight decay, the iterations
ADAPTATION_LR: Mapping[str, Mapping[str, float]] = {
    "lambda_pnn": {"WV3": 4e-5, "WV2": 3.5e-5, "GeoEye1": 5e-5},
    "zpnn": {"WV3": 1e-5, "WV2": 1e-5, "GeoEye1": 5e-5},
    "hqnr": {"WV3": 1e-4, "WV2": 1e-4, "GeoEye1": 1e-4},
}
ADAPTATION_WEIGHT_DECAY: Mapping[str, float] = {"lambda_pnn": 1e-4, "zpnn": 0.0, "hqnr": 0.0}
ADAPTATION_STEPS = 100


def adaptation_learning_rate(loss: str, sensor: str, bands: int) -> float:
    """The paper's target-adaptation learning rate of ``loss`` (``zpnn`` or ``lambda_pnn``) for the data."""
    return ADAPTATION_LR[loss][_paper_sensor(sensor, bands)]


def _paper_sensor(sensor: str, bands: int) -> str:
    """The sensor whose published weights apply: the data's when the papers tuned for it, else by band count."""
    key = canonical_sensor(sensor)
    if key in LAMBDA_PNN_WEIGHTS:
        return key
    return "WV3" if bands >= 8 else "GeoEye1"


def _gains(batch: Batch) -> tuple[float, ...]:
    """The MS MTF gains: those the data records, else the sensor's."""
    if batch.meta.mtf_gains is not None:
        return tuple(float(g) for g in batch.meta.mtf_gains)
    return ms_gains(batch.meta.sensor, batch.lms.shape[1])


def _ratio(batch: Batch) -> int:
    ratio = batch.meta.ratio
    assert ratio is not None  # a validated Batch knows its ratio
    if ratio < 2:
        raise UsageError(f"full-resolution losses need a PAN/MS ratio of at least 2, found {ratio} (these "
                         "losses are for pansharpening)")
    return ratio


def _pan(batch: Batch) -> Tensor:
    if batch.pan.shape[1] != 1:
        raise UsageError(f"full-resolution losses need a single-band PAN guide, found {batch.pan.shape[1]} bands")
    return batch.pan


def degrade(fused: Tensor, batch: Batch) -> Tensor:
    """The fused image as the MS sensor would see it: its MTF filter, then decimation by the ratio."""
    ratio = _ratio(batch)
    return decimate(mtf_filter(fused, _gains(batch), ratio), ratio)


def expected_correlation_gap(batch: Batch) -> Tensor:
    """``1 − ρ(lms_b, MTF(pan))`` in 16×16 windows: how far from the PAN a band may stay where the MS itself
    correlates no better with the low-passed PAN (the threshold of the structural term)."""
    ratio, pan = _ratio(batch), _pan(batch)
    with torch.no_grad():  # the PAN is low-passed with the MTF of the first MS band, as in their code
        pan_low = mtf_filter(pan.double(), _gains(batch)[:1], ratio)
        return 1.0 - local_correlation(batch.lms.double(), pan_low, THRESHOLD_HALF_WIDTH)


def structural_loss(fused: Tensor, batch: Batch) -> tuple[Tensor, Tensor]:
    """Mean of ``1 − ρ(fused_b, pan)`` (windows of ``2⌈ratio/2⌉``, ρ clamped at −1) where it exceeds the
    expected gap, zero elsewhere; and, for logging, the same mean without the threshold."""
    ratio, pan = _ratio(batch), _pan(batch)
    gap = 1.0 - torch.clamp(local_correlation(fused, pan, math.ceil(ratio / 2)), min=-1.0)
    threshold = expected_correlation_gap(batch)
    return (gap * (gap > threshold)).mean(), gap.detach().mean()


class ZPNNLoss(nn.Module):
    """Z-PNN's loss: mean absolute difference of the degraded fused image and the MS, plus ``beta`` times
    the structural term (``beta=None``: the paper's for the data's sensor, 0.36 for WorldView, 0.25 for
    GeoEye-1)."""

    needs_reference = False  # validation reports it on data without reference

    def __init__(self, beta: float | None = None) -> None:
        super().__init__()
        if beta is not None and beta < 0:
            raise ValueError(f"zpnn: beta must be non-negative, found {beta}")
        self.beta = beta

    def forward(self, output: FusionOutput, batch: Batch) -> LossOutput:
        fused = output.fused
        spectral = (degrade(fused, batch) - batch.ms.to(fused.dtype)).abs().mean()
        structural, unthresholded = structural_loss(fused, batch)
        beta = self.beta if self.beta is not None else ZPNN_BETA[_paper_sensor(batch.meta.sensor, fused.shape[1])]
        total = spectral + beta * structural.to(spectral.dtype)
        return LossOutput(total, {"spectral_l1": spectral.detach(), "structural": structural.detach(),
                                  "structural_unthresholded": unthresholded})


def _q2n_block(h: int, w: int) -> int:
    side = min(32, h, w)
    return 1 << (side.bit_length() - 1)


class LambdaPNNLoss(nn.Module):
    """λ-PNN's loss: ``alpha·ERGAS(degraded, ms) + beta·(1 − Q2n(degraded, ms)) + gamma·structural``
    (``None`` weights: the paper's for the data's sensor)."""

    needs_reference = False  # validation reports it on data without reference

    def __init__(self, alpha: float | None = None, beta: float | None = None, gamma: float | None = None) -> None:
        super().__init__()
        for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
            if value is not None and value < 0:
                raise ValueError(f"lambda_pnn: {name} must be non-negative, found {value}")
        self.weights = (alpha, beta, gamma)

    def forward(self, output: FusionOutput, batch: Batch) -> LossOutput:
        fused = output.fused
        ratio = _ratio(batch)
        defaults = LAMBDA_PNN_WEIGHTS[_paper_sensor(batch.meta.sensor, fused.shape[1])]
        alpha, beta, gamma = (w if w is not None else d for w, d in zip(self.weights, defaults))
        low = degrade(fused, batch)
        ms = batch.ms.to(low.dtype)
        mse = (low - ms).square().mean(dim=(-2, -1))
        ergas = (100.0 / ratio * torch.sqrt((mse / ms.mean(dim=(-2, -1)).square()).mean(-1))).mean()
        scale = _dn_scale(batch)
        block = _q2n_block(*ms.shape[-2:])
        q2n = q2n_value(ms.double() * scale, low.double() * scale, block, block, quantise=False, kernels="torch").mean()
        structural, unthresholded = structural_loss(fused, batch)
        total = alpha * ergas + beta * (1.0 - q2n).to(ergas.dtype) + gamma * structural.to(ergas.dtype)
        return LossOutput(total, {"ergas": ergas.detach(), "d_lambda_k": (1.0 - q2n).detach(),
                                  "structural": structural.detach(), "structural_unthresholded": unthresholded})


def _dn_scale(batch: Batch) -> float:
    """The data's DN scale, where the Q indices are computed (2048 for data without one)."""
    return float(batch.meta.max_value) if batch.meta.max_value > 1 else 2048.0


def _dividing_block(h: int, w: int) -> int:
    """The Q block of a h×w image for D_λ^K and D_s, which need whole blocks: 32 (the toolbox's), or the largest
    power of 2 dividing both sides (unlike :func:`_q2n_block`: Q2n mirror-pads the image to whole blocks)."""
    block = 32
    while h % block or w % block:
        block //= 2
    return block


class HQNRLoss(nn.Module):
    """``1 − (1 − D_λ^K)^alpha · (1 − D_s)^beta`` (HQNR with the toolbox's exponents, 1 and 1 by default) with
    the toolbox's D_λ^K (Q2n of the MTF-filtered fused image and the upsampled MS, no uint16 rounding, which
    would stop the gradient) and D_s (band-wise Q with the PAN, against the MS's with the low-passed PAN), in
    blocks of 32 (or the largest power of 2 dividing the patch's sides). ``alpha > 1`` favours spectral
    fidelity where the spatial term would trade it away."""

    needs_reference = False

    def __init__(self, alpha: float = 1.0, beta: float = 1.0) -> None:
        super().__init__()
        for name, value in (("alpha", alpha), ("beta", beta)):
            if not value > 0:
                raise ValueError(f"hqnr: {name} must be positive, found {value}")
        self.alpha, self.beta = alpha, beta

    def forward(self, output: FusionOutput, batch: Batch) -> LossOutput:
        fused = output.fused
        ratio, pan = _ratio(batch), _pan(batch)
        scale = _dn_scale(batch)
        f = fused.double() * scale
        ms, lms = batch.ms.double() * scale, batch.lms.double() * scale
        block = _dividing_block(*f.shape[-2:])
        spectral = d_lambda_k(f, ms, ratio, _gains(batch), block, lms=lms, quantise=False, kernels="torch")
        spatial = d_s(f, pan.double() * scale, ms, ratio, block, lms=lms)
        total = 1.0 - ((1.0 - spectral) ** self.alpha * (1.0 - spatial) ** self.beta).mean()
        return LossOutput(total.to(fused.dtype), {"d_lambda_k": spectral.detach().mean(),
                                                  "d_s": spatial.detach().mean()})


def zpnn(beta: float | None = None) -> ZPNNLoss:
    """Z-PNN (Ciotola et al., TGRS 2022): unsupervised full-resolution spectral L1 + thresholded structural term."""
    return ZPNNLoss(beta)


def lambda_pnn(alpha: float | None = None, beta: float | None = None, gamma: float | None = None) -> LambdaPNNLoss:
    """λ-PNN (Ciotola et al., TGRS 2023): unsupervised full-resolution ERGAS + Q2n + thresholded structural term."""
    return LambdaPNNLoss(alpha, beta, gamma)


def hqnr(alpha: float = 1.0, beta: float = 1.0) -> HQNRLoss:
    """1 − HQNR (toolbox D_λ^K and D_s, differentiable; exponents alpha, beta): unsupervised full-resolution loss."""
    return HQNRLoss(alpha, beta)
