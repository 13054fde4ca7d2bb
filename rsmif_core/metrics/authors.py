"""``protocol="authors"``: the indices exactly as the RSMIF authors' test solver computes them.

Re-statements (not copies) of ``utils/metrics.py`` of JUSTM0VE0N/RSMIF_Project as called by
``solver/testsolver.py``, so numbers can be compared with the RSMIF papers. Each differs from the
toolbox on purpose; see ``shared/reference/metrics/definitions.md``. Inputs are B×C×H×W float64 in
the solver's scale ([0, 1], i.e. DN / 2047) where the scale matters (RMSE); outputs are (B,).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from rsmif_core.metrics.chunks import over_leading
from rsmif_core.metrics.filters import separable_valid_filter
from rsmif_core.metrics.moments import band_pearson, band_statistics
from rsmif_core.metrics.uiqi import q_global_authors


def pearson_per_band(x: Tensor, y: Tensor) -> Tensor:
    """Pearson correlation of every band (B×C); 1 when both bands are constant, 0 when only one is."""
    return band_pearson(band_statistics(x, y))


def sam(fused: Tensor, reference: Tensor) -> Tensor:
    """``SAM_numpy``: angles whose cosine is undefined or outside [-1, 1] (NaN in numpy) count as 0 in the mean."""
    dot = (fused * reference).sum(1)
    den = torch.linalg.vector_norm(fused, dim=1) * torch.linalg.vector_norm(reference, dim=1)
    cos = dot / torch.where(den > 0, den, torch.ones_like(den))
    valid = (den > 0) & (cos.abs() <= 1)
    angle = torch.where(valid, torch.acos(cos.clamp(-1, 1)), torch.zeros_like(cos))
    return angle.mean(dim=(-2, -1)) * 180 / math.pi


def ergas(fused: Tensor, reference: Tensor, ratio: float) -> Tensor:
    """``ERGAS_numpy``: normalised by the mean of the *fused* band (the toolbox uses the reference's)."""
    mse = ((reference - fused) ** 2).mean(dim=(-2, -1))
    mean_f = fused.mean(dim=(-2, -1))
    return 100.0 / ratio * torch.sqrt((mse / mean_f**2).mean(-1))


def q_index(fused: Tensor, reference: Tensor) -> Tensor:
    """``UIQC_numpy``: one global UIQI per band (no blocks), mean over bands."""
    return q_global_authors(reference, fused).mean(-1)


def _sobel_spectral(x: Tensor) -> Tensor:
    """``scipy.ndimage.sobel(hwc, mode='constant')`` (axis -1): derivative along the bands, [1 2 1] smoothing in H and W."""
    p = F.pad(x, (1, 1, 1, 1, 1, 1))  # zeros around bands, rows and columns
    d = p[:, 2:] - p[:, :-2]
    d = d[..., :-2, :] + 2 * d[..., 1:-1, :] + d[..., 2:, :]
    return d[..., :-2] + 2 * d[..., 1:-1] + d[..., 2:]


def scc(fused: Tensor, reference: Tensor) -> Tensor:
    """``SCC_numpy``: Pearson correlation per band of the spectral-axis Sobel responses, mean over bands."""
    return over_leading(lambda f, r: pearson_per_band(_sobel_spectral(f), _sobel_spectral(r)).mean(-1), fused, reference)


def rmse(fused: Tensor, reference: Tensor) -> Tensor:
    """``RMSE_numpy`` on the H×W×C array: sqrt(Σ_c MSE_c), i.e. √C times the RMSE."""
    return torch.sqrt(((reference - fused) ** 2).mean(dim=(-2, -1)).sum(-1))


def ssim(fused: Tensor, reference: Tensor, data_range: float) -> Tensor:
    """skimage ``structural_similarity`` defaults (``SSIM_numpy``): 7×7 uniform window, sample covariance,
    K1 = 0.01, K2 = 0.03, the 3-pixel border excluded, mean over bands."""
    win = 7
    if min(fused.shape[-2:]) < win:
        raise ValueError(f"ssim (authors): images must be at least {win}×{win}")
    b, c, h, w = fused.shape
    box = (1.0 / win,) * win
    cov_norm = win * win / (win * win - 1.0)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2

    def per_map(x: Tensor, y: Tensor) -> Tensor:
        def mean(t: Tensor) -> Tensor:  # 'valid' = the region skimage keeps after cropping its border
            return separable_valid_filter(t, box)

        ux, uy = mean(x), mean(y)
        vx = cov_norm * (mean(x * x) - ux * ux)
        vy = cov_norm * (mean(y * y) - uy * uy)
        vxy = cov_norm * (mean(x * y) - ux * uy)
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        return s.mean(dim=(-2, -1))

    maps = over_leading(per_map, reference.reshape(b * c, h, w), fused.reshape(b * c, h, w))
    return maps.reshape(b, c).mean(-1)


def d_lambda(fused: Tensor, lms: Tensor, p: float = 1.0) -> Tensor:
    """``D_lambda_numpy(lms, fused)``: global UIQI between band pairs of fused and of the *upsampled* MS."""
    c = fused.shape[1]
    if c < 2:
        raise ValueError("d_lambda needs at least 2 bands")
    qf = _pairwise_global_q(fused)
    qm = _pairwise_global_q(lms)
    off = ~torch.eye(c, dtype=torch.bool, device=fused.device)
    diff = (qf - qm).abs() ** p
    return (diff[:, off].sum(-1) / (c * (c - 1))) ** (1 / p)


def _pairwise_global_q(x: Tensor, eps: float = 1e-21) -> Tensor:
    """B×C×C global UIQI (ddof=1, eps as QIndex_numpy) between every pair of bands."""
    flat = x.flatten(-2)
    n = flat.shape[-1]
    m = flat.mean(-1)
    d = flat - m.unsqueeze(-1)
    cov = torch.matmul(d, d.transpose(-1, -2)) / (n - 1)
    var = torch.diagonal(cov, dim1=-2, dim2=-1)
    mm = m.unsqueeze(-1) * m.unsqueeze(-2)
    msq = m.unsqueeze(-1) ** 2 + m.unsqueeze(-2) ** 2
    return 4 * cov * mm / (var.unsqueeze(-1) + var.unsqueeze(-2) + eps) / (msq + eps)


def pyr_down(x: Tensor) -> Tensor:
    """OpenCV ``pyrDown``: 5×5 binomial [1 4 6 4 1]²/256 with BORDER_REFLECT_101, keep even rows/columns."""
    taps = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)
    b, c, h, w = x.shape
    p = F.pad(x.reshape(b * c, 1, h, w), (2, 2, 2, 2), mode="reflect").reshape(b, c, h + 4, w + 4)
    return separable_valid_filter(p, taps)[..., ::2, ::2]


def d_s(fused: Tensor, pan: Tensor, ms: Tensor, ratio: int, q: float = 1.0) -> Tensor:
    """``D_s_numpy(ms, pan, fused)``: global UIQI; the PAN is reduced with ``pyrDown`` log2(ratio) times
    (twice for ratio 4, the only case the authors' code handles)."""
    levels = int(round(math.log2(ratio)))
    if 2**levels != ratio:
        raise ValueError(f"d_s (authors): ratio must be a power of 2 (pyrDown pyramid), found {ratio}")
    pan_lr = pan
    for _ in range(levels):
        pan_lr = pyr_down(pan_lr)
    if pan_lr.shape[-2:] != ms.shape[-2:]:
        raise ValueError(f"d_s (authors): reduced PAN {tuple(pan_lr.shape[-2:])} does not match ms {tuple(ms.shape[-2:])}")
    q_high = q_global_authors(fused, pan)
    q_low = q_global_authors(ms, pan_lr)
    return ((q_high - q_low).abs() ** q).mean(-1) ** (1 / q)
