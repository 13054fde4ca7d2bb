"""Benchmark: RSMIF's indices (on CPU the fused numba kernels; ``--kernels torch`` times the batched torch path
other devices use) vs a numpy re-statement of the per-image, per-band, per-block
code the indices are usually computed with (the authors' utils/metrics.py + utils/FS_index port of the
toolbox, which loop over images, bands, band pairs and Q2n blocks in Python).

The baseline is written here from the toolbox formulas in that loop structure (nothing copied); it
computes the same toolbox definitions as our default protocol and its values are checked against ours
before timing. Run as a script (never in the test suite):

    python bench/bench_metrics.py [--images 20] [--repeats 3] [--suite rr|fr|both] [--kernels numba|torch]
                                  [--authors-copy DIR] [--authors-deps DIR]

A second baseline is the AUTHORS' OWN code, run from a scratch copy outside this repository (never
committed): DIR holds ``utils/metrics.py`` and ``utils/FS_index/*.py`` written from
JUSTM0VE0N/RSMIF_Project, and ``--authors-deps`` (default ``DIR/deps``) a ``pip install --target``
folder with what they import (scikit-image, opencv-python-headless, sewar). DIR comes from
``--authors-copy`` or the env var ``RSMIF_AUTHORS_METRICS``; when it is absent the script says so and
times only the re-statement. See bench/authors_metrics_baseline.md for how to make the copy.

Timings are interleaved (authors, re-statement, ours, authors, ...) in one process with
``torch.set_num_threads(2)``; each ratio is median(baseline) / median(ours) measured in the same run.
Issue targets: RR suite (20 × 256×256×8) >= 20×, FR suite (20 scenes, PAN 512) >= 10×, both against
the authors' implementation.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from _results import record
from scipy import ndimage

from rsmif_core.metrics import functional as fn
from rsmif_core.metrics.moments import Kernels
from rsmif_core.ops.interp import imresize_matrix, interp23tap_matrix
from rsmif_core.ops.mtf import mtf_kernels

KERNELS: Kernels = "numba"  # set from --kernels in main()
RESULT_LINES: list[str] = []  # what run() printed, recorded in bench/RESULTS.md at the end

# ----------------------------------------------------------------------------- numpy baseline (H×W×C)


def np_sam(ref: np.ndarray, fus: np.ndarray) -> float:
    dot = np.sum(ref * fus, axis=2)
    den = np.sqrt(np.sum(ref * ref, axis=2) * np.sum(fus * fus, axis=2))
    keep = den > 0
    return float(np.mean(np.arccos(np.clip(dot[keep] / den[keep], -1, 1))) * 180 / np.pi)


def np_ergas(ref: np.ndarray, fus: np.ndarray, ratio: int = 4) -> float:
    acc = 0.0
    for c in range(ref.shape[2]):
        acc += np.mean((ref[:, :, c] - fus[:, :, c]) ** 2) / np.mean(ref[:, :, c]) ** 2
    return 100 / ratio * math.sqrt(acc / ref.shape[2])


def np_img_qi(a: np.ndarray, b: np.ndarray, bs: int) -> float:
    n = bs * bs
    box = lambda t: ndimage.uniform_filter(t, bs, mode="constant")[bs // 2 : bs // 2 + t.shape[0] - bs + 1,  # noqa: E731
                                                                    bs // 2 : bs // 2 + t.shape[1] - bs + 1] * n
    s1, s2, s11, s22, s12 = box(a), box(b), box(a * a), box(b * b), box(a * b)
    prod = s1 * s2
    sq = s1 * s1 + s2 * s2
    num = 4 * (n * s12 - prod) * prod
    den1 = n * (s11 + s22) - sq
    den = den1 * sq
    q = np.ones_like(den)
    idx = (den1 == 0) & (sq != 0)
    q[idx] = 2 * prod[idx] / sq[idx]
    idx = den != 0
    q[idx] = num[idx] / den[idx]
    return float(np.mean(q))


def np_q(ref: np.ndarray, fus: np.ndarray, bs: int = 32) -> float:
    return float(np.mean([np_img_qi(ref[:, :, c], fus[:, :, c], bs) for c in range(ref.shape[2])]))


def _onion_mult(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cayley-Dickson product along the last axis (onion_mult / onion_mult2D)."""
    n = a.shape[-1]
    if n == 1:
        return a * b

    def cj(v: np.ndarray) -> np.ndarray:
        return np.concatenate([v[..., :1], -v[..., 1:]], axis=-1)

    h = n // 2
    p, q, r, s = a[..., :h], cj(a[..., h:]), b[..., :h], cj(b[..., h:])
    if n == 2:
        return np.concatenate([p * r - s * q, p * s + r * q], axis=-1)
    return np.concatenate([_onion_mult(p, r) - _onion_mult(s, cj(q)), _onion_mult(cj(p), s) + _onion_mult(r, q)], axis=-1)


def _onions_quality(d1: np.ndarray, d2: np.ndarray, size: int) -> np.ndarray:
    d1 = d1.astype(np.float64)
    d2 = d2.astype(np.float64)
    d2 = np.concatenate([d2[..., :1], -d2[..., 1:]], axis=-1)
    nb = d1.shape[2]
    for i in range(nb):
        band = d1[..., i]
        a, c = band.mean(), band.std(ddof=1)
        c = c if c != 0 else np.finfo(np.float64).eps
        d1[..., i] = (band - a) / c + 1
        if a == 0:
            d2[..., i] = d2[..., i] - a + 1 if i == 0 else -(-d2[..., i] - a + 1)
        else:
            d2[..., i] = (d2[..., i] - a) / c + 1 if i == 0 else -(((-d2[..., i] - a) / c) + 1)
    m1 = np.array([d1[..., i].mean() for i in range(nb)])
    m2 = np.array([d2[..., i].mean() for i in range(nb)])
    u = size * size / (size * size - 1)
    mq1, mq2 = np.sum(m1**2), np.sum(m2**2)
    int1 = u * np.mean(np.sum(d1**2, axis=2))
    int2 = u * np.mean(np.sum(d2**2, axis=2))
    t3 = int1 + int2 - u * (mq1 + mq2)
    bias = 2 * math.sqrt(mq1) * math.sqrt(mq2) / (mq1 + mq2)
    if t3 == 0:
        q = np.zeros(nb)
        q[-1] = bias
        return q
    qu = _onion_mult(d1, d2)
    qv = np.array([u * qu[..., i].mean() for i in range(nb)])
    return (qv - u * _onion_mult(m1, m2)) * bias * 2 / t3


def np_q2n(ref: np.ndarray, fus: np.ndarray, bs: int = 32, shift: int = 32) -> float:
    n1, n2, n3 = ref.shape
    sx, sy = math.ceil(n1 / shift), math.ceil(n2 / shift)
    e1, e2 = (sx - 1) * shift + bs - n1, (sy - 1) * shift + bs - n2
    if e1 > 0 or e2 > 0:
        ref = np.pad(ref, ((0, e1), (0, e2), (0, 0)), mode="symmetric")
        fus = np.pad(fus, ((0, e1), (0, e2), (0, 0)), mode="symmetric")
    ref = np.clip(np.floor(ref + 0.5), 0, 65535)
    fus = np.clip(np.floor(fus + 0.5), 0, 65535)
    full = 1 << math.ceil(math.log2(n3))
    if full != n3:
        pad = np.zeros(ref.shape[:2] + (full - n3,))
        ref, fus = np.concatenate([ref, pad], axis=2), np.concatenate([fus, pad], axis=2)
    vals = np.zeros((sx, sy, full))
    for j in range(sx):
        for i in range(sy):
            blk = (slice(j * shift, j * shift + bs), slice(i * shift, i * shift + bs))
            vals[j, i] = _onions_quality(ref[blk], fus[blk], bs)
    return float(np.mean(np.sqrt(np.sum(vals**2, axis=2))))


def np_scc(ref: np.ndarray, fus: np.ndarray) -> float:
    sob = np.array([[1.0, 2, 1], [0, 0, 0], [-1, -2, -1]])

    def grad(img: np.ndarray) -> np.ndarray:
        out = np.zeros((img.shape[0] - 2, img.shape[1] - 2, img.shape[2]))
        for c in range(img.shape[2]):
            inner = img[1:-1, 1:-1, c]
            gy = ndimage.correlate(inner, sob, mode="constant")
            gx = ndimage.correlate(inner, sob.T, mode="constant")
            out[:, :, c] = np.sqrt(gy**2 + gx**2)
        return out

    gf, gr = grad(fus), grad(ref)
    return float(np.sum(gf * gr) / np.sqrt(np.sum(gf**2)) / np.sqrt(np.sum(gr**2)))


def np_psnr(ref: np.ndarray, fus: np.ndarray, dr: float) -> float:
    return float(np.mean([10 * np.log10(dr**2 / np.mean((ref[:, :, c] - fus[:, :, c]) ** 2)) for c in range(ref.shape[2])]))


def np_ssim(ref: np.ndarray, fus: np.ndarray, dr: float) -> float:
    t = np.arange(11) - 5.0
    g = np.exp(-(t * t) / (2 * 1.5**2))
    g /= g.sum()

    def blur(x: np.ndarray) -> np.ndarray:
        y = ndimage.correlate1d(ndimage.correlate1d(x, g, axis=0), g, axis=1)
        return y[5:-5, 5:-5]

    out = []
    for c in range(ref.shape[2]):
        x, y = ref[:, :, c], fus[:, :, c]
        mx, my = blur(x), blur(y)
        vx, vy, vxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
        c1, c2 = (0.01 * dr) ** 2, (0.03 * dr) ** 2
        out.append(np.mean((2 * mx * my + c1) * (2 * vxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))))
    return float(np.mean(out))


def np_rmse(ref: np.ndarray, fus: np.ndarray) -> float:
    return float(np.sqrt(np.mean((ref - fus) ** 2)))


def np_cc(ref: np.ndarray, fus: np.ndarray) -> float:
    return float(np.mean([np.corrcoef(ref[:, :, c].ravel(), fus[:, :, c].ravel())[0, 1] for c in range(ref.shape[2])]))


def np_rase(ref: np.ndarray, fus: np.ndarray) -> float:
    mse = [np.mean((ref[:, :, c] - fus[:, :, c]) ** 2) for c in range(ref.shape[2])]
    return float(100 / np.mean(ref) * np.sqrt(np.mean(mse)))


def np_rr_suite(refs: np.ndarray, fuss: np.ndarray) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in ("q2n", "q_index", "sam", "ergas", "scc", "psnr", "ssim", "rmse", "cc", "rase")}
    for ref, fus in zip(refs, fuss):
        out["q2n"].append(np_q2n(ref, fus))
        out["q_index"].append(np_q(ref, fus))
        out["sam"].append(np_sam(ref, fus))
        out["ergas"].append(np_ergas(ref, fus))
        out["scc"].append(np_scc(ref, fus))
        out["psnr"].append(np_psnr(ref / 2047, fus / 2047, 1.0))
        out["ssim"].append(np_ssim(ref / 2047, fus / 2047, 1.0))
        out["rmse"].append(np_rmse(ref / 2047, fus / 2047))
        out["cc"].append(np_cc(ref, fus))
        out["rase"].append(np_rase(ref, fus))
    return out


def _uqi(x: np.ndarray, y: np.ndarray) -> float:
    mx, my = x.mean(), y.mean()
    c = np.cov(x.ravel(), y.ravel())
    return float(4 * c[0, 1] * mx * my / (c[0, 0] + c[1, 1]) / (mx**2 + my**2))


def _blockwise_q(a: np.ndarray, b: np.ndarray, s: int) -> float:
    vals = [_uqi(a[i : i + s, j : j + s], b[i : i + s, j : j + s])
            for i in range(0, a.shape[0], s) for j in range(0, a.shape[1], s)]
    return float(np.mean(vals))


def np_fr_suite(fuss: np.ndarray, pans: np.ndarray, mss: np.ndarray, lmss: np.ndarray, sensor: str,
                ratio: int = 4, s: int = 32) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in ("d_lambda_k", "d_s", "hqnr", "d_lambda", "qnr")}
    kernels = mtf_kernels(sensor, ratio, fuss.shape[3])
    for fus, pan, lms in zip(fuss, pans, lmss):
        nb = fus.shape[2]
        low = np.stack([ndimage.correlate(fus[:, :, c], kernels[c], mode="nearest") for c in range(nb)], axis=2)
        dlk = 1 - np_q2n(lms, low, s, s)
        h, w = pan.shape
        rows = imresize_matrix(h, h // ratio, 1 / ratio)
        cols = imresize_matrix(w, w // ratio, 1 / ratio)
        pan_lr = rows @ pan @ cols.T
        pan_lp = interp23tap_matrix(h // ratio, ratio) @ pan_lr @ interp23tap_matrix(w // ratio, ratio).T
        ds = float(np.mean([abs(_blockwise_q(fus[:, :, c], pan, s) - _blockwise_q(lms[:, :, c], pan_lp, s)) for c in range(nb)]))
        dl = 0.0
        for i in range(nb - 1):
            for j in range(i + 1, nb):
                dl += abs(_blockwise_q(fus[:, :, i], fus[:, :, j], s) - _blockwise_q(lms[:, :, i], lms[:, :, j], s))
        dl /= nb * (nb - 1) / 2
        out["d_lambda_k"].append(dlk)
        out["d_s"].append(ds)
        out["hqnr"].append((1 - dlk) * (1 - ds))
        out["d_lambda"].append(dl)
        out["qnr"].append((1 - dl) * (1 - ds))
    return out

# ----------------------------------------------------------------------------- the authors' own code (scratch copy)


class AuthorsCode:
    """The authors' ``utils/metrics.py`` module and FS_index functions, imported from a scratch copy."""

    def __init__(self, metrics: ModuleType, q2n: Callable[..., Any], qindex: Callable[..., Any],
                 hqnr: Callable[..., Any]) -> None:
        self.metrics, self.q2n, self.qindex, self.hqnr = metrics, q2n, qindex, hqnr


def load_authors(copy: Path | None, deps: Path | None) -> AuthorsCode | None:
    """Import the authors' metrics from ``copy``; print why and return None when that is not possible."""
    if copy is None:
        print("authors' implementation: ABSENT (no --authors-copy and no RSMIF_AUTHORS_METRICS); "
              "only the numpy re-statement is timed, which is NOT the issue's baseline")
        return None
    metrics_py, fs_index = copy / "utils" / "metrics.py", copy / "utils" / "FS_index"
    if not metrics_py.is_file() or not (fs_index / "my_q2n.py").is_file():
        print(f"authors' implementation: ABSENT ({metrics_py} or {fs_index}/my_q2n.py missing); "
              "only the numpy re-statement is timed, which is NOT the issue's baseline")
        return None
    deps = deps if deps is not None else copy / "deps"
    # FS_index imports itself as a top-level package (``from FS_index.MTF import MTF``).
    sys.path[:0] = [str(p) for p in (deps, copy / "utils") if p.is_dir()]
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=SyntaxWarning)  # `is` with a literal in FS_index/imresize.py
    if "int" not in np.__dict__:
        # FS_index/interp23.py calls ``np.int``, the alias of the builtin ``int`` that NumPy 2 removed;
        # restoring the alias runs their code unchanged.
        np.int = int  # type: ignore[attr-defined]
    try:
        spec = importlib.util.spec_from_file_location("authors_metrics", metrics_py)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        from FS_index.HQNR import HQNR  # type: ignore[import-not-found]
        from FS_index.indexes_evaluation_FS import qindex  # type: ignore[import-not-found]
        from FS_index.my_q2n import q2n  # type: ignore[import-not-found]
    except ImportError as exc:
        print(f"authors' implementation: NOT IMPORTABLE from {copy} (deps {deps}): {exc}; "
              "only the numpy re-statement is timed")
        return None
    print(f"authors' implementation: {copy} (deps {deps})")
    return AuthorsCode(module, q2n, qindex, HQNR)


def authors_rr_indices(code: AuthorsCode) -> dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], float]]:
    """The authors' implementation of each index of our suite, called on one H×W×C pair given on the DN scale
    and on [0, 1]: their test solver's SSIM, RMSE, SAM, CC, SCC, MPSNR, ERGAS on [0, 1] data, and from their
    FS_index port of the toolbox ``q2n`` (Q8, blocks 32) and ``qindex`` (the sliding 32×32 UIQI of ``Q.m``,
    our ``q_index``) on the DN scale. Their solver's UIQC is a different index (one global Q per band) and
    is not part of the suite. They have no RASE."""
    m = code.metrics
    return {
        "ssim": lambda rd, fd, r, f: float(m.SSIM_numpy(r, f, data_range=1)),
        "rmse": lambda rd, fd, r, f: float(m.RMSE_numpy(r, f)),
        "sam": lambda rd, fd, r, f: float(m.SAM_numpy(r, f)),
        "cc": lambda rd, fd, r, f: float(m.CC_numpy(r, f)),
        "scc": lambda rd, fd, r, f: float(m.SCC_numpy(r, f)),
        "psnr": lambda rd, fd, r, f: float(m.MPSNR_numpy(r, f, data_range=1)),
        "ergas": lambda rd, fd, r, f: float(m.ERGAS_numpy(r, f)),
        "q_index": lambda rd, fd, r, f: float(code.qindex(rd, fd, 32)),
        "q2n": lambda rd, fd, r, f: float(code.q2n(rd, fd, 32, 32)[0]),
    }


_AUTHORS_DN_INDICES = ("q_index", "q2n")  # the FS_index ones, called on the DN scale only


def authors_rr_suite(code: AuthorsCode, refs: np.ndarray, fuss: np.ndarray, max_value: float = 2047.0,
                     names: tuple[str, ...] | None = None) -> dict[str, list[float]]:
    """Per image, every index of :func:`authors_rr_indices` (or those ``names``); the [0, 1] images are made
    once per image, as the solver does."""
    indices = authors_rr_indices(code)
    chosen = names if names is not None else tuple(indices)
    out: dict[str, list[float]] = {k: [] for k in chosen}
    on_unit_scale = any(name not in _AUTHORS_DN_INDICES for name in chosen)
    for ref_dn, fus_dn in zip(refs, fuss):
        ref, fus = (ref_dn / max_value, fus_dn / max_value) if on_unit_scale else (ref_dn, fus_dn)
        for name in chosen:
            out[name].append(indices[name](ref_dn, fus_dn, ref, fus))
    return out


def rr_breakdown(code: AuthorsCode, refs: np.ndarray, fuss: np.ndarray, ref: torch.Tensor, fus: torch.Tensor,
                 repeats: int) -> None:
    """Time every index alone, ours (batched) and the authors' (per image), interleaved: where the time goes."""
    ours = torch_rr_indices()
    theirs = tuple(authors_rr_indices(code))
    n = len(refs)
    print("  per index, ms per image (median of interleaved runs): ours / authors -> ratio")
    for name, call in ours.items():
        t_ours: list[float] = []
        t_theirs: list[float] = []
        for _ in range(repeats):
            t_ours.append(_time(partial(call, ref, fus)))
            if name in theirs:
                t_theirs.append(_time(partial(authors_rr_suite, code, refs, fuss, names=(name,))))
        mo = statistics.median(t_ours) / n * 1e3
        if t_theirs:
            ma = statistics.median(t_theirs) / n * 1e3
            print(f"    {name:8s} {mo:7.2f} / {ma:7.2f} -> {ma / mo:5.1f}x")
        else:
            print(f"    {name:8s} {mo:7.2f} / (no counterpart)")


def authors_fr_suite(code: AuthorsCode, fuss: np.ndarray, pans: np.ndarray, mss: np.ndarray, lmss: np.ndarray,
                     sensor: str, ratio: int = 4, s: int = 32) -> dict[str, list[float]]:
    """Per scene: FS_index ``HQNR`` (toolbox D_lambda^K, D_s, HQNR) and the solver's ``D_lambda_numpy``,
    with QNR formed from those. The solver's ``D_s_numpy`` (pyrDown variant) is not timed: our suite has no
    counterpart to it, so leaving it out only shortens the authors' time."""
    out: dict[str, list[float]] = {k: [] for k in ("d_lambda_k", "d_s", "hqnr", "d_lambda", "qnr")}
    for fus, pan, ms, lms in zip(fuss, pans, mss, lmss):
        hqnr, dlk, ds = code.hqnr(fus, ms, lms, pan[:, :, None], s, sensor, ratio)
        dl = float(code.metrics.D_lambda_numpy(lms, fus))
        out["d_lambda_k"].append(float(dlk))
        out["d_s"].append(float(ds))
        out["hqnr"].append(float(hqnr))
        out["d_lambda"].append(dl)
        out["qnr"].append((1 - dl) * (1 - float(ds)))
    return out


# ----------------------------------------------------------------------------- ours (the functional API)


def torch_rr_indices(max_value: float = 2047.0) -> dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    """Every index of our suite on DN-scale B×C×H×W tensors: PSNR and SSIM with ``data_range=max_value``
    equal their values on [0, 1] data with range 1; RMSE is reported on the [0, 1] scale like the authors'."""
    return {
        "q2n": lambda r, f: fn.q2n(f, r, kernels=KERNELS), "q_index": lambda r, f: fn.q_index(f, r, kernels=KERNELS),
        "sam": lambda r, f: fn.sam(f, r, kernels=KERNELS), "ergas": lambda r, f: fn.ergas(f, r, 4, kernels=KERNELS),
        "scc": lambda r, f: fn.scc(f, r, kernels=KERNELS), "psnr": lambda r, f: fn.psnr(f, r, max_value, kernels=KERNELS),
        "ssim": lambda r, f: fn.ssim(f, r, max_value, kernels=KERNELS),
        "rmse": lambda r, f: fn.rmse(f, r, kernels=KERNELS) / max_value, "cc": lambda r, f: fn.cc(f, r, kernels=KERNELS),
        "rase": lambda r, f: fn.rase(f, r, kernels=KERNELS),
    }


def torch_rr_suite(ref: torch.Tensor, fus: torch.Tensor) -> dict[str, torch.Tensor]:
    return {name: call(ref, fus) for name, call in torch_rr_indices().items()}


def torch_fr_suite(fus: torch.Tensor, pan: torch.Tensor, ms: torch.Tensor, lms: torch.Tensor,
                   sensor: str) -> dict[str, torch.Tensor]:
    dlk = fn.d_lambda_k(fus, ms, 4, sensor, lms=lms, kernels=KERNELS)
    ds = fn.d_s(fus, pan, ms, 4, lms=lms)
    dl = fn.d_lambda(fus, ms, lms=lms)
    return {"d_lambda_k": dlk, "d_s": ds, "hqnr": (1 - dlk) * (1 - ds), "d_lambda": dl, "qnr": (1 - dl) * (1 - ds)}


# ----------------------------------------------------------------------------- data and timing


def _smooth(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=(0, sigma, sigma, 0))
    return field / field.std()


def rr_data(n: int, size: int, bands: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = np.clip(np.round(800 + 250 * _smooth(rng, (n, size, size, bands), 3.0)), 0, 2047)
    fused = np.clip(ndimage.gaussian_filter(gt, (0, 1, 1, 0)) + rng.normal(0, 8, gt.shape), 0, 2047)
    return gt, fused


def fr_data(n: int, size: int, bands: int, seed: int = 1) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    hr = 800 + 250 * _smooth(rng, (n, size, size, bands), 4.0)
    pan = np.round(hr.mean(axis=3) + rng.normal(0, 3, (n, size, size)))
    ms = np.round(hr[:, 2::4, 2::4, :])
    lms = np.stack([(interp23tap_matrix(size // 4, 4) @ ms[i].transpose(2, 0, 1) @ interp23tap_matrix(size // 4, 4).T)
                    .transpose(1, 2, 0) for i in range(n)])
    fused = np.clip(lms + (hr - ndimage.gaussian_filter(hr, (0, 2, 2, 0))) + rng.normal(0, 4, hr.shape), 0, 2047)
    return fused, pan, ms, lms


def _nchw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))


def _check(name: str, base: dict[str, list[float]], ours: dict[str, torch.Tensor], tol: float,
           keys: tuple[str, ...] | None = None) -> None:
    for k in keys if keys is not None else tuple(base):
        err = float(np.max(np.abs(np.asarray(base[k]) - ours[k].numpy())))
        status = "ok" if err <= tol else "MISMATCH"
        print(f"  {name} {k:10s} max |baseline - ours| = {err:.2e} {status}")


def _time(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def run(name: str, baselines: dict[str, Callable[[], object]], ours_call: Callable[[], object], repeats: int,
        target: float) -> None:
    """Interleave every baseline with ours; print each ratio. The target applies to the authors' line."""
    ours_call()  # warm-up (kernel caches, allocator)
    times: dict[str, list[float]] = {k: [] for k in baselines}
    to: list[float] = []
    for _ in range(repeats):
        for label, call in baselines.items():
            times[label].append(_time(call))
        to.append(_time(ours_call))
    ours = statistics.median(to)
    lines = [name, f"  ours {ours:.2f} s (runs {[round(t, 2) for t in to]})"]
    for label, tb in times.items():
        ratio = statistics.median(tb) / ours
        verdict = f"{'meets' if ratio >= target else 'MISSES'} the {target:.0f}x target" if label == "authors" \
            else "reference only"
        lines.append(f"  vs {label}: {statistics.median(tb):.2f} s -> {ratio:.1f}x ({verdict}; runs "
                     f"{[round(t, 2) for t in tb]})")
    print("\n".join(lines))
    RESULT_LINES.extend(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--suite", choices=["rr", "fr", "both"], default="both")
    parser.add_argument("--kernels", choices=["numba", "torch"], default="numba",
                        help="where our statistics run on this CPU (the runtime.metric_kernels option)")
    env_copy = os.environ.get("RSMIF_AUTHORS_METRICS")
    parser.add_argument("--authors-copy", type=Path, default=Path(env_copy) if env_copy else None,
                        help="scratch copy of the authors' repo (utils/metrics.py, utils/FS_index); "
                             "default: $RSMIF_AUTHORS_METRICS")
    parser.add_argument("--authors-deps", type=Path, default=None,
                        help="pip --target folder with the authors' imports (default: AUTHORS_COPY/deps)")
    args = parser.parse_args()
    global KERNELS
    KERNELS = args.kernels
    torch.set_num_threads(2)
    path = "fused CPU kernels" if KERNELS == "numba" else "batched torch"
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, images {args.images}, ours on {path}")
    authors = load_authors(args.authors_copy, args.authors_deps)
    if args.suite in ("rr", "both"):
        gt, fused = rr_data(args.images, 256, 8)
        tgt, tfus = _nchw(gt), _nchw(fused)
        _check("RR", np_rr_suite(gt[:2], fused[:2]), torch_rr_suite(tgt[:2], tfus[:2]), 1e-9)
        rr: dict[str, Callable[[], object]] = {}
        if authors is not None:
            code = authors
            # Only the indices with the same definition are compared (their SSIM is skimage's, ERGAS
            # divides by the fused mean, SCC uses full-image Sobel + Pearson).
            _check("RR authors", authors_rr_suite(code, gt[:2], fused[:2]), torch_rr_suite(tgt[:2], tfus[:2]), 1e-6,
                   ("q2n", "q_index", "sam", "psnr", "cc"))
            rr["authors"] = lambda: authors_rr_suite(code, gt, fused)
        rr["numpy re-statement"] = lambda: np_rr_suite(gt, fused)
        run(f"RR suite ({args.images} x 256x256x8). ours/re-statement: q2n q_index sam ergas scc psnr ssim rmse cc "
            "rase; authors: q2n, qindex (FS_index) + solver's SSIM RMSE SAM CC SCC MPSNR ERGAS",
            rr, lambda: torch_rr_suite(tgt, tfus), args.repeats, 20)
        if authors is not None:
            rr_breakdown(authors, gt, fused, tgt, tfus, args.repeats)
    if args.suite in ("fr", "both"):
        fused, pan, ms, lms = fr_data(args.images, 512, 8)
        tf, tp, tm, tl = _nchw(fused), torch.from_numpy(pan)[:, None], _nchw(ms), _nchw(lms)
        ours1 = torch_fr_suite(tf[:1], tp[:1], tm[:1], tl[:1], "WV3")
        _check("FR", np_fr_suite(fused[:1], pan[:1], ms[:1], lms[:1], "WV3"), ours1, 1e-9)
        fr: dict[str, Callable[[], object]] = {}
        if authors is not None:
            code = authors
            # Their D_s runs in float32 torch; their D_lambda is one global Q per band pair.
            _check("FR authors", authors_fr_suite(code, fused[:1], pan[:1], ms[:1], lms[:1], "WV3"), ours1, 1e-4,
                   ("d_lambda_k", "d_s", "hqnr"))
            fr["authors"] = lambda: authors_fr_suite(code, fused, pan, ms, lms, "WV3")
        fr["numpy re-statement"] = lambda: np_fr_suite(fused, pan, ms, lms, "WV3")
        run(f"FR suite ({args.images} scenes, PAN 512, 8 bands). ours/re-statement: d_lambda_k d_s hqnr d_lambda qnr "
            "(toolbox block Q); authors: FS_index HQNR (D_lambda_K, D_s) + solver's D_lambda_numpy, QNR",
            fr, lambda: torch_fr_suite(tf, tp, tm, tl, "WV3"), args.repeats, 10)
    if RESULT_LINES:
        record(f"bench_metrics ({args.suite}, {path})", "```\n" + "\n".join(RESULT_LINES) + "\n```")


if __name__ == "__main__":
    main()
