"""Band-dependent spatial detail: BDSD, C-BDSD and BDSD-PC of the benchmark toolbox (``BDSD/``).

All three estimate, at reduced resolution, a linear model that predicts each MS band's missing detail from
the degraded MS bands and the degraded PAN, then apply it at full resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

import rsmif_core
from rsmif_classical.base import ClassicalModel
from rsmif_classical.common import Scene, column_major, from_column_major
from rsmif_classical.segmentation import kmeans


def _phase(ratio: int) -> int:
    """0-based sample of each ratio×ratio cell the toolbox's BDSD and C-BDSD read: ``pan_LP(3:ratio:end, ...)``
    (offset 2). The toolbox stops at ratio 2 there (too few samples); we then take the nearest-neighbour
    decimation phase ``ratio // 2`` (= 1)."""
    return 2 if ratio >= 3 else ratio // 2


def _reduced(scene: Scene) -> tuple[Tensor, Tensor, Tensor]:
    """The reduced-resolution triple of BDSD and C-BDSD: MTF-filtered PAN sampled at :func:`_phase`,
    the bicubic-reduced MS (``imresize(I_MS, 1/ratio)``) and its MTF-filtered version."""
    ratio, offset = scene.ratio, _phase(scene.ratio)
    pan_lp = rsmif_core.mtf_filter_pan(scene.pan, scene.sensor, ratio)[..., offset::ratio, offset::ratio]
    ms_orig = rsmif_core.imresize(scene.lms, 1.0 / ratio)
    ms_lp = rsmif_core.mtf_filter(ms_orig, scene.gains, ratio)
    return pan_lp, ms_orig, ms_lp


def _blocks(x: Tensor, rows: int, cols: int) -> Tensor:
    """B×C×H×W -> B×nb×(rows·cols)×C: the pixels of every rows×cols block, one row per pixel."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // rows, rows, w // cols, cols).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // rows) * (w // cols), rows * cols, c)


class BDSD(ClassicalModel):
    """BDSD: band-dependent spatial detail, MMSE-optimal injection estimated blockwise at reduced
    resolution (toolbox ``BDSD/BDSD.m``).

    A. Garzelli, F. Nencini, L. Capobianco, "Optimal MMSE pan sharpening of very high resolution
    multispectral images", IEEE TGRS, 46(1):228-236, 2008.

    ``block_size`` is the side S of the distinct blocks with their own parameters (even, a multiple of the
    ratio, dividing the image); ``None`` (default) is one block covering the whole image: the benchmark's call
    ``BDSD(..., size(I_MS, 1), ...)`` on its square images, and on non-square ones (where that call fails) the
    same global estimate.
    """

    def __init__(
        self, spectral_bands: int, guide_bands: int, ratio: int, *, block_size: int | None = None, clip: bool = False
    ) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)
        if block_size is not None and (block_size < 2 or block_size % 2 or block_size % ratio):
            raise ValueError(f"BDSD: block_size must be even and a multiple of the ratio {ratio}, found {block_size}")
        self.block_size = block_size

    def fuse(self, scene: Scene) -> Tensor:
        lms, pan, ratio = scene.lms, scene.pan, scene.ratio
        h, w = pan.shape[-2:]
        rows, cols = (h, w) if self.block_size is None else (self.block_size, self.block_size)
        if rows % 2 or cols % 2 or rows % ratio or cols % ratio or h % rows or w % cols:
            raise ValueError(
                f"BDSD: the block {rows}×{cols} must have even sides, multiples of the ratio {ratio}, that divide "
                f"the image size {h}×{w}"
            )
        pan_lp, ms_orig, ms_lp = _reduced(scene)
        design = _blocks(torch.cat([ms_lp, pan_lp], dim=1), rows // ratio, cols // ratio)  # B×nb×n×(C+1)
        target = _blocks(ms_orig - ms_lp, rows // ratio, cols // ratio)  # B×nb×n×C
        # (Hd'·Hd) \ Hd' applied to the detail, as the toolbox writes it
        gram = design.transpose(-1, -2) @ design
        gamma = torch.linalg.solve(gram, design.transpose(-1, -2) @ target)  # B×nb×(C+1)×C
        full = _blocks(torch.cat([lms, pan], dim=1), rows, cols)
        detail = full @ gamma  # B×nb×(rows·cols)×C
        b, c = lms.shape[:2]
        detail = detail.reshape(b, h // rows, w // cols, rows, cols, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, h, w)
        return lms + detail


def _stdfilt(x: Tensor, size: int) -> Tensor:
    """MATLAB ``stdfilt(x, ones(size))``: sample standard deviation over each size×size window, symmetric padding."""
    pad = size // 2
    h, w = x.shape[-2:]

    def mirror(n: int) -> Tensor:
        cycle = torch.cat([torch.arange(n), torch.arange(n - 1, -1, -1)]).to(x.device)
        return cycle[torch.arange(-pad, n + pad, device=x.device) % (2 * n)]

    padded = x[..., mirror(h), :][..., mirror(w)]
    padded = padded - padded.mean(dim=(-2, -1), keepdim=True)  # the variance does not move; the sums stay small
    n = size * size

    def box(v: Tensor) -> Tensor:
        return F.avg_pool2d(F.avg_pool2d(v, (size, 1), stride=1), (1, size), stride=1) * n

    s1, s2 = box(padded), box(padded * padded)
    return ((s2 - s1 * s1 / n) / (n - 1)).clamp(min=0.0).sqrt()


def _solve_or_min_norm(gram: Tensor, rhs: Tensor) -> Tensor:
    """``gram \\ rhs`` as GNU Octave computes it: LU where the matrix is regular, and where it is singular to
    machine precision (reciprocal condition below eps) the minimum-norm least-squares solution (SVD, singular
    values below eps·max cut). MATLAB's LU returns Inf/NaN or arbitrary values there instead."""
    solution, info = torch.linalg.solve_ex(gram, rhs)
    eps = torch.finfo(gram.dtype).eps
    singular = (info != 0) | ~(torch.linalg.cond(gram, p=1) < 1.0 / eps)
    if singular.any():
        min_norm = torch.linalg.pinv(gram, rtol=eps, hermitian=True) @ rhs
        solution = torch.where(singular[..., None, None], min_norm, solution)
    return solution


def _cluster_parameters(ms_lp: Tensor, pan_lp: Tensor, ms_orig: Tensor, members: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """C-BDSD's ``parm_est`` on the reduced-resolution pixels selected by B×n ``members`` (0/1).

    Returns the gain g (B×C), the weights alpha (B×C×C), the offset (B×C) and whether the cluster has any
    pixel (B,).
    """
    design = torch.cat([ms_lp, torch.ones_like(pan_lp), pan_lp], dim=1).flatten(-2)  # B×(C+2)×n
    weighted = design * members[:, None, :]
    gram = weighted @ design.transpose(-1, -2)
    rhs = weighted @ (ms_orig - ms_lp).flatten(-2).transpose(-1, -2)  # B×(C+2)×C
    gamma = _solve_or_min_norm(gram, rhs)
    c = ms_lp.shape[1]
    g = gamma[:, c + 1]  # B×C
    alpha = -gamma[:, :c] / g[:, None, :]
    offset = gamma[:, c] / g
    return g, alpha, offset, members.sum(dim=-1) > 0


class CBDSD(ClassicalModel):
    """C-BDSD: clustered BDSD, injection parameters per cluster of a k-means on local PAN statistics
    (toolbox ``BDSD/C_BDSD.m``).

    A. Garzelli, "Pansharpening of multispectral images based on nonlocal parameter optimization",
    IEEE TGRS, 53(4):2096-2107, 2015.

    ``clusters`` is K (the benchmark's 30). The features are the PAN's 51×51 local standard deviation and
    the PAN itself, each divided by its maximum; the reduced-resolution clustering uses the toolbox's
    polyphase sample (3, 3) and the other ratio² - 1 phases take the nearest of its centres. The k-means
    start is deterministic, see :mod:`rsmif_classical.segmentation`.

    Toolbox behaviour kept: a cluster whose gains have a negative entry takes the global parameters; the
    toolbox tests the whole gain table filled so far, so once one cluster has taken global gains that
    themselves have a negative entry, every later cluster takes them too. A cluster with fewer than C + 2
    reduced-resolution pixels has singular normal equations: like GNU Octave's ``\\`` we take the
    minimum-norm solution (MATLAB's LU gives platform-dependent values there). Deviations: a cluster
    with no reduced-resolution pixel takes the global parameters (the toolbox gives NaN); ratio 2 uses polyphase sample (1, 1) (the toolbox indexes past
    the 2×2 phases and stops); for ratio >= 9 the phases (1, 9) and (9, 1) are clustered too (the toolbox's
    ``i*j ~= 9`` test skips them and leaves those pixels at 0).
    """

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, clusters: int = 30, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)
        if clusters < 2:
            raise ValueError(f"CBDSD: clusters must be at least 2, found {clusters}")
        self.clusters = int(clusters)

    def fuse(self, scene: Scene) -> Tensor:
        lms, pan, ratio, k = scene.lms, scene.pan, scene.ratio, self.clusters
        b, c, h, w = lms.shape
        pan_lp, ms_orig, ms_lp = _reduced(scene)
        spread = _stdfilt(pan, 51)
        features = torch.cat(
            [spread / spread.amax(dim=(-2, -1), keepdim=True), pan / pan.amax(dim=(-2, -1), keepdim=True)], dim=1
        )
        offset = _phase(ratio)
        labels_lr, centres = kmeans(column_major(features[..., offset::ratio, offset::ratio]), k)
        # every polyphase component (i, j) as one batch: phase_stack[b, i, j] = features[b, :, i::ratio, j::ratio]
        hr, wr = h // ratio, w // ratio
        phase_stack = features.reshape(b, 2, hr, ratio, wr, ratio).permute(0, 3, 5, 1, 2, 4).reshape(b * ratio * ratio, 2, hr, wr)
        phase_labels, _ = kmeans(column_major(phase_stack), k, start=centres.repeat_interleave(ratio * ratio, dim=0), max_iter=1)
        phase_labels = phase_labels.reshape(b, ratio * ratio, -1)
        phase_labels[:, offset * ratio + offset] = labels_lr  # the clustered phase keeps its converged labels
        labels = from_column_major(phase_labels.reshape(b * ratio * ratio, -1), hr, wr)
        labels = labels.reshape(b, ratio, ratio, hr, wr).permute(0, 3, 1, 4, 2).reshape(b, h, w)
        master = from_column_major(labels_lr, h // ratio, w // ratio).flatten(-2)  # row-major like ms_lp

        g_all, alpha_all, offset_all, _ = _cluster_parameters(ms_lp, pan_lp, ms_orig, torch.ones_like(master, dtype=lms.dtype))
        params = [_cluster_parameters(ms_lp, pan_lp, ms_orig, (master == j).to(lms.dtype)) for j in range(k)]
        g = torch.stack([p[0] for p in params], dim=1)  # B×K×C
        alpha = torch.stack([p[1] for p in params], dim=1)
        off = torch.stack([p[2] for p in params], dim=1)
        populated = torch.stack([p[3] for p in params], dim=1)  # B×K
        negative = (g < 0).any(dim=-1)
        first = torch.cumsum(negative.to(torch.long), dim=1) > 0
        global_negative = (g_all < 0).any(dim=-1, keepdim=True)
        replaced = negative | (global_negative & first) | ~populated
        g = torch.where(replaced[..., None], g_all[:, None], g)
        alpha = torch.where(replaced[..., None, None], alpha_all[:, None], alpha)
        off = torch.where(replaced[..., None], offset_all[:, None], off)

        # bdsd_injection: MS + (P - (MS·alpha - offset)) · g on the pixels of each cluster
        fused = torch.empty_like(lms)
        for i in range(b):
            flat = labels[i].flatten()
            order = torch.argsort(flat, stable=True)
            ms_px, pan_px = lms[i].flatten(1), pan[i, 0].flatten()
            out = torch.empty_like(ms_px)
            start = 0
            for j, count in enumerate(torch.bincount(flat, minlength=k).tolist()):
                idx = order[start : start + count]
                start += count
                ms_j = ms_px[:, idx]
                intensity = alpha[i, j].T @ ms_j - off[i, j, :, None]
                out.index_copy_(1, idx, ms_j + (pan_px[idx] - intensity) * g[i, j, :, None])
            fused[i] = out.reshape(c, h, w)
        return fused


def _nnls(gram: Tensor, rhs: Tensor) -> Tensor:
    """Lawson-Hanson active-set solution of min ||A x - y||² subject to x >= 0, given the normal equations
    (``gram`` = A'A, N×p×p, and ``rhs`` = A'y, N×p), for N problems at once. Exact up to rounding."""
    n, p = rhs.shape
    x = torch.zeros_like(rhs)
    passive = torch.zeros(n, p, dtype=torch.bool, device=rhs.device)
    eye = torch.eye(p, dtype=rhs.dtype, device=rhs.device).expand_as(gram)
    tol = 1e-12 * rhs.abs().amax(dim=1, keepdim=True)
    inf = torch.full_like(x, float("inf"))

    def solve_on(free: Tensor) -> Tensor:
        """The unconstrained least squares on the free variables, 0 elsewhere."""
        reduced = torch.where(free[:, :, None] & free[:, None, :], gram, eye)
        return torch.where(free, torch.linalg.solve(reduced, torch.where(free, rhs, 0.0)[..., None])[..., 0], 0.0)

    for _ in range(3 * p):
        grad = rhs - (gram @ x[..., None])[..., 0]
        candidates = ~passive & (grad > tol)
        moving = candidates.any(dim=1)
        if not moving.any():
            break
        entering = torch.where(candidates, grad, -inf).argmax(dim=1)
        passive = passive | (moving[:, None] & F.one_hot(entering, p).bool())
        for _ in range(3 * p):
            z = solve_on(passive)
            blocked = moving[:, None] & passive & (z <= 0)
            stepping = blocked.any(dim=1)
            settled = moving & ~stepping
            x = torch.where(settled[:, None], z, x)
            moving = stepping
            if not moving.any():
                break
            # move from x towards z until the first free variable reaches 0, and fix it (and any other) at 0
            steps = torch.where(blocked, x / (x - z), inf)
            step, leaving = steps.min(dim=1)
            x = torch.where(moving[:, None], x + step[:, None] * (z - x), x)
            hit = moving[:, None] & (F.one_hot(leaving, p).bool() | (passive & (x <= 0)))
            x = torch.where(hit, 0.0, x)
            passive = passive & ~hit
    return x


class BDSDPC(ClassicalModel):
    """BDSD-PC: BDSD with physically constrained injection (PAN weight >= 0, MS weights <= 0), global
    (toolbox ``BDSD/BDSD_PC.m``).

    G. Vivone, "Robust band-dependent spatial-detail approaches for panchromatic sharpening",
    IEEE TGRS, 57(9):6421-6433, 2019.

    The toolbox solves each band's constrained least squares with MATLAB's ``lsqlin`` (interior point,
    approximate); this solves it exactly (active set), like Octave's ``lsqlin``.
    """

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)

    def fuse(self, scene: Scene) -> Tensor:
        lms, pan, ratio = scene.lms, scene.pan, scene.ratio
        b, c = lms.shape[:2]
        ms_orig = rsmif_core.imresize(lms, 1.0 / ratio)
        ms_lp = rsmif_core.mtf_filter(ms_orig, scene.gains, ratio)
        pan_lr = rsmif_core.decimate(rsmif_core.mtf_filter_pan(pan, scene.sensor, ratio), ratio)
        design = torch.cat([pan_lr, ms_lp], dim=1).flatten(-2)  # B×(C+1)×n
        # x = D·gamma >= 0 with D = diag(1, -1, ..., -1) turns the sign constraints into non-negativity
        signs = torch.ones(c + 1, dtype=lms.dtype, device=lms.device)
        signs[1:] = -1
        design = design * signs[:, None]
        gram = design @ design.transpose(-1, -2)  # B×(C+1)×(C+1)
        rhs = design @ (ms_orig - ms_lp).flatten(-2).transpose(-1, -2)  # B×(C+1)×C
        x = _nnls(gram.repeat_interleave(c, dim=0), rhs.transpose(1, 2).reshape(b * c, c + 1))
        gamma = x.reshape(b, c, c + 1) * signs  # B×C(band)×(C+1)
        return lms + torch.einsum("bkhw,bck->bchw", torch.cat([pan, lms], dim=1), gamma)
