"""Parity of every index with the MATLAB toolbox (run in Octave) and with the authors' solver.

Cases, configurations and tolerances are those of ``shared/reference/metrics/`` (README.md, values.json).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rsmif_core.metrics import functional as M

# README tolerances vs matlab_octave (absolute, ERGAS relative)
OCTAVE_TOL = {"SAM": 1e-6, "ERGAS": 1e-6, "Q": 1e-6, "SCC": 1e-6, "Q2n": 5e-5, "D_lambda_K": 5e-5, "D_S": 1e-4,
              "HQNR": 1e-4, "QNR": 1e-4, "D_lambda": 1e-6}
AUTHORS_REL = 1e-5
AUTHORS_F64_REL = 1e-8


def _load(shared: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from safetensors.numpy import load_file

    root = shared / "reference" / "metrics"
    return json.loads((root / "values.json").read_text()), load_file(str(root / "cases.safetensors"))


@pytest.fixture(scope="module")
def reference(request: pytest.FixtureRequest) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from _helpers import shared_dir

    path = shared_dir()
    if not (path / "reference" / "metrics" / "values.json").is_file():
        pytest.skip(f"metric reference values not found under {path} (set RSMIF_SHARED)")
    return _load(path)


def _nchw(a: np.ndarray, scale: float = 1.0, dtype: Any = np.float64) -> torch.Tensor:
    """HWC (or HW) numpy -> 1×C×H×W tensor; ``scale`` divides like the authors' loader (then cast to ``dtype``)."""
    x = (a / scale).astype(dtype) if scale != 1.0 else a.astype(dtype)
    if x.ndim == 2:
        x = x[..., None]
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def _cases(kind: str) -> list[str]:
    from _helpers import shared_dir

    path = shared_dir() / "reference" / "metrics" / "values.json"
    if not path.is_file():
        return []
    return [k for k, v in json.loads(path.read_text()).items() if k != "_about" and v["type"] == kind]


def _octave_rr_options(cfg: str) -> dict[str, Any]:
    # cfg keys: cut<flag>_dim21_th<th>; th -> clip to [0, 2^11]
    return {"border": 21 if cfg.startswith("cut1") else 0, "clip": 2048 if cfg.endswith("th1") else None}


@pytest.mark.parametrize("case", _cases("RR"))
def test_reduced_resolution_matches_octave(reference: tuple[dict[str, Any], dict[str, np.ndarray]], case: str) -> None:
    values, arrays = reference
    gt, fused = _nchw(arrays[f"{case}/gt"]), _nchw(arrays[f"{case}/fused"])
    configs = values[case]["values"]["matlab_octave"]
    assert configs, "no octave configurations"
    for cfg, expected in configs.items():
        opts = _octave_rr_options(cfg)
        ours = {
            "Q": M.q_index(fused, gt, 32, **opts),
            "SAM": M.sam(fused, gt, **opts),
            "ERGAS": M.ergas(fused, gt, 4, **opts),
            "SCC": M.scc(fused, gt, **opts),
            "Q2n": M.q2n(fused, gt, 32, 32, **opts),
        }
        for name, value in ours.items():
            assert value.shape == (1,)
            err = abs(value.item() - expected[name])
            if name == "ERGAS":
                err /= abs(expected[name])
            assert err <= OCTAVE_TOL[name], f"{case} {cfg} {name}: {value.item()!r} vs {expected[name]!r} (err {err:.2e})"


@pytest.mark.parametrize("case", _cases("FR"))
def test_full_resolution_matches_octave(reference: tuple[dict[str, Any], dict[str, np.ndarray]], case: str) -> None:
    values, arrays = reference
    sensor = values[case]["sensor"]
    ratio = values[case]["ratio"]
    pan, ms = _nchw(arrays[f"{case}/pan"]), _nchw(arrays[f"{case}/ms"])
    lms, fused = _nchw(arrays[f"{case}/lms"]), _nchw(arrays[f"{case}/fused"])
    ours = {
        "D_lambda_K": M.d_lambda_k(fused, ms, ratio, sensor, 32, lms=lms),
        "D_S": M.d_s(fused, pan, ms, ratio, 32, lms=lms),
        "HQNR": M.hqnr(fused, pan, ms, ratio, sensor, 32, lms=lms),
        "D_lambda": M.d_lambda(fused, ms, 32, lms=lms),
        "QNR": M.qnr(fused, pan, ms, ratio, 32, lms=lms),
    }
    configs = values[case]["values"]["matlab_octave"]
    checked = 0
    for cfg, expected in configs.items():
        for name, ref in expected.items():
            err = abs(ours[name].item() - ref)
            assert err <= OCTAVE_TOL[name], f"{case} {cfg} {name}: {ours[name].item()!r} vs {ref!r} (err {err:.2e})"
            checked += 1
    assert checked == 6


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def _authors_rr(fused: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
    a = {"protocol": "authors"}
    return {
        "SSIM": M.ssim(fused, gt, 1.0, **a), "RMSE": M.rmse(fused, gt, **a), "SAM": M.sam(fused, gt, **a),
        "CC": M.cc(fused, gt, **a), "SCC": M.scc(fused, gt, **a), "PSNR": M.psnr(fused, gt, 1.0, **a),
        "ERGAS": M.ergas(fused, gt, 4, **a), "UIQC": M.q_index(fused, gt, **a),
    }


@pytest.mark.parametrize("case", _cases("RR"))
def test_reduced_resolution_matches_authors_solver(reference: tuple[dict[str, Any], dict[str, np.ndarray]],
                                                   case: str) -> None:
    values, arrays = reference
    # the solver's inputs: float32(stored / 2047)
    gt = _nchw(arrays[f"{case}/gt"], 2047.0, np.float32)
    fused = _nchw(arrays[f"{case}/fused"], 2047.0, np.float32)
    expected = values[case]["values"]["authors_solver_rr_float32_div2047"]
    for name, value in _authors_rr(fused, gt).items():
        if name == "PSNR":
            assert abs(value.item() - expected[name]) <= 1e-4, f"{case} PSNR {value.item()} vs {expected[name]}"
        else:
            assert _rel(value.item(), expected[name]) <= AUTHORS_REL, f"{case} {name}: {value.item()!r} vs {expected[name]!r}"
    # and in float64 against the same functions run in float64
    gt64 = _nchw(arrays[f"{case}/gt"], 2047.0)
    fused64 = _nchw(arrays[f"{case}/fused"], 2047.0)
    expected64 = values[case]["values"]["authors_numpy_float64_div2047"]
    for name, value in _authors_rr(fused64, gt64).items():
        assert _rel(value.item(), expected64[name]) <= AUTHORS_F64_REL, f"{case} {name} f64: {value.item()!r} vs {expected64[name]!r}"


@pytest.mark.parametrize("case", _cases("FR"))
def test_full_resolution_matches_authors_solver(reference: tuple[dict[str, Any], dict[str, np.ndarray]],
                                                case: str) -> None:
    values, arrays = reference
    pan, ms, lms, fused = (_nchw(arrays[f"{case}/{k}"], 2047.0, np.float32) for k in ("pan", "ms", "lms", "fused"))
    expected = values[case]["values"]["authors_solver_fr_float32_div2047"]
    ours = {
        "D_lambda": M.d_lambda(fused, ms, lms=lms, protocol="authors"),
        "D_s": M.d_s(fused, pan, ms, 4, protocol="authors"),
        "QNR": M.qnr(fused, pan, ms, 4, lms=lms, protocol="authors"),
    }
    for name, value in ours.items():
        assert _rel(value.item(), expected[name]) <= AUTHORS_REL, f"{case} {name}: {value.item()!r} vs {expected[name]!r}"


def test_batched_equals_one_by_one(reference: tuple[dict[str, Any], dict[str, np.ndarray]]) -> None:
    """Two same-sized cases in one batch give the values computed separately."""
    _, arrays = reference
    names = ["rr_wv3_8b_blur", "rr_qb_4b_mixed"]
    gts = [_nchw(arrays[f"{n}/gt"])[:, :4] for n in names]
    fus = [_nchw(arrays[f"{n}/fused"])[:, :4] for n in names]
    gt, fused = torch.cat(gts), torch.cat(fus)
    for fn in (M.q2n, M.q_index, M.sam, M.ergas, M.scc):
        together = fn(fused, gt, border=21)
        alone = torch.cat([fn(f, g, border=21) for f, g in zip(fus, gts)])
        assert together.shape == (2,)
        torch.testing.assert_close(together, alone, rtol=1e-12, atol=1e-12)
