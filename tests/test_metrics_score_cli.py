"""``rsmif score`` reads .mat (v5 and v7.3), .h5, .tif and .npy and agrees with the functional indices."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from rsmif_core.cli import cli
from rsmif_core.metrics import functional as fn


def _scene(seed: int, h: int = 64, bands: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = np.round(300 + 1200 * rng.random((h, h, bands)))
    fused = (gt + rng.normal(0, 30, gt.shape)).astype(np.float32)
    return gt, fused


def _read_csv(path: Path) -> dict[str, dict[str, float]]:
    with open(path) as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    return {r[0]: {k: float(v) for k, v in zip(header[1:], r[1:])} for r in rows[1:]}


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.astype(np.float64).transpose(2, 0, 1).copy())[None]


def test_reduced_resolution_from_mat_and_npy_directories(tmp_path: Path) -> None:
    from scipy.io import savemat

    fused_dir, ref_dir = tmp_path / "fused", tmp_path / "gt"
    fused_dir.mkdir()
    ref_dir.mkdir()
    scenes = [_scene(s) for s in range(2)]
    for i, (gt, fused) in enumerate(scenes):
        savemat(fused_dir / f"img{i}.mat", {"sr": fused / 2047})  # authors' solver output: [0, 1], key 'sr'
        np.save(ref_dir / f"img{i}.npy", gt)  # H×W×C
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(cli, ["score", "--fused", str(fused_dir), "--reference", str(ref_dir), "--max-value",
                                      "2047", "--ratio", "4", "--metrics", "sam,ergas,q2n,rmse", "--csv", str(out),
                                      "--per-image"])
    assert result.exit_code == 0, result.output
    assert "already divided by max_value" in result.output
    rows = _read_csv(out)
    assert set(rows) == {"img0", "img1", "mean", "std"}
    for i, (gt, fused) in enumerate(scenes):
        f = _t((fused / 2047).astype(np.float64) * 2047)  # what the .mat holds, back on the DN scale
        g = _t(gt)
        assert rows[f"img{i}"]["sam"] == pytest.approx(fn.sam(f, g).item(), rel=1e-9)
        assert rows[f"img{i}"]["ergas"] == pytest.approx(fn.ergas(f, g, 4).item(), rel=1e-9)
        assert rows[f"img{i}"]["q2n"] == pytest.approx(fn.q2n(f, g).item(), abs=1e-6)
        assert rows[f"img{i}"]["rmse"] == pytest.approx(fn.rmse(f / 2047, g / 2047).item(), rel=1e-9)
    assert rows["mean"]["sam"] == pytest.approx((rows["img0"]["sam"] + rows["img1"]["sam"]) / 2)


def test_full_resolution_from_h5_v73_mat_and_tif(tmp_path: Path) -> None:
    import h5py
    import rasterio

    rng = np.random.default_rng(5)
    pan = np.round(200 + 1500 * rng.random((64, 64)))
    ms = np.round(200 + 1500 * rng.random((16, 16, 4)))
    fused = (np.repeat(np.repeat(ms, 4, 0), 4, 1) + rng.normal(0, 20, (64, 64, 4))).astype(np.float64)
    # PanCollection-style h5: N×C×H×W under the keys pan / ms
    with h5py.File(tmp_path / "inputs.h5", "w") as f:
        f["pan"] = pan[None, None]
        f["ms"] = ms.transpose(2, 0, 1)[None]
    # MATLAB v7.3: an HDF5 file whose arrays h5py sees with reversed axes
    with h5py.File(tmp_path / "fused.mat", "w") as f:
        f["I_F"] = fused.transpose(2, 1, 0)
    with rasterio.open(tmp_path / "fused.tif", "w", driver="GTiff", height=64, width=64, count=4, dtype="float64",
                       transform=rasterio.Affine(0.5, 0, 0, 0, -0.5, 0)) as dst:  # a georeference: no warning
        dst.write(fused.transpose(2, 0, 1))
    expected = fn.hqnr(_t(fused), torch.from_numpy(pan)[None, None], _t(ms), 4, "qb", 32).item()
    for fused_file in ("fused.mat", "fused.tif"):
        out = tmp_path / f"{fused_file}.csv"
        result = CliRunner().invoke(cli, [
            "score", "--fused", str(tmp_path / fused_file), "--pan", str(tmp_path / "inputs.h5"),
            "--ms", str(tmp_path / "inputs.h5"), "--sensor", "QB", "--metrics", "hqnr,d_s", "--csv", str(out),
        ])
        assert result.exit_code == 0, result.output
        assert _read_csv(out)["fused"]["hqnr"] == pytest.approx(expected, abs=1e-9)


def test_clear_errors(tmp_path: Path) -> None:
    gt, fused = _scene(0)
    np.save(tmp_path / "gt.npy", gt)
    np.save(tmp_path / "fused.npy", fused[:, :, :3])
    runner = CliRunner()
    result = runner.invoke(cli, ["score", "--fused", str(tmp_path / "fused.npy"), "--reference", str(tmp_path / "gt.npy"),
                                 "--max-value", "2047", "--ratio", "4"])
    assert result.exit_code == 2 and "does not match gt" in result.output
    result = runner.invoke(cli, ["score", "--fused", str(tmp_path / "fused.npy")])
    assert result.exit_code == 2 and "--reference" in result.output
    result = runner.invoke(cli, ["score", "--fused", str(tmp_path / "missing.npy"), "--reference", str(tmp_path / "gt.npy")])
    assert result.exit_code == 2 and "no such file" in result.output
    result = runner.invoke(cli, ["score", "--fused", str(tmp_path / "fused.npy"), "--pan", "a", "--ms", "b"])
    assert result.exit_code == 2 and "a: no such file" in result.output
    result = runner.invoke(cli, ["score", "--fused", str(tmp_path / "fused.npy"), "--pan", str(tmp_path / "gt.npy"),
                                 "--ms", str(tmp_path / "gt.npy")])
    assert result.exit_code == 2 and "--sensor is needed" in result.output and "the files record none" in result.output
    result = runner.invoke(cli, ["score", "--fused", str(tmp_path / "fused.npy"), "--reference", str(tmp_path / "gt.npy"),
                                 "--metrics", "hqnr"])
    assert result.exit_code != 0 and "does not apply" in result.output


def _folders(tmp_path: Path, fused_names: list[str], ref_names: list[str]) -> tuple[Path, Path, list]:
    fused_dir, ref_dir = tmp_path / "fused", tmp_path / "gt"
    fused_dir.mkdir()
    ref_dir.mkdir()
    scenes = [_scene(s) for s in range(len(fused_names))]
    for name, (_, fused) in zip(fused_names, scenes):
        np.save(fused_dir / f"{name}.npy", fused)
    for name, (gt, _) in zip(ref_names, scenes):
        np.save(ref_dir / f"{name}.npy", gt)
    return fused_dir, ref_dir, scenes


def test_folders_pair_by_file_name_not_by_order(tmp_path: Path) -> None:
    fused_dir, ref_dir, scenes = _folders(tmp_path, ["b", "a"], ["b", "a"])
    out = tmp_path / "s.csv"
    result = CliRunner().invoke(cli, ["score", "--fused", str(fused_dir), "--reference", str(ref_dir), "--max-value",
                                      "2047", "--ratio", "4", "--metrics", "sam", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    rows = _read_csv(out)
    for name, (gt, fused) in zip(["b", "a"], scenes):
        assert rows[name]["sam"] == pytest.approx(fn.sam(_t(fused), _t(gt)).item(), rel=1e-9)


def test_unmatched_names_are_listed_not_scored(tmp_path: Path) -> None:
    fused_dir, ref_dir, _ = _folders(tmp_path, ["img0", "img1"], ["img0", "other"])
    result = CliRunner().invoke(cli, ["score", "--fused", str(fused_dir), "--reference", str(ref_dir),
                                      "--max-value", "2047", "--ratio", "4"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "pair their images by file name" in text and "no reference image for fused img1" in text
    assert "no fused image for reference other" in text


def test_scale_sensor_and_ratio_come_from_the_files(tmp_path: Path) -> None:
    import h5py
    from scipy.io import savemat

    gt, fused = _scene(0)
    gt12, fused12 = gt * 2, fused * 2  # 12-bit data: values up to 2x those of 11-bit
    savemat(tmp_path / "fused.mat", {"sr": fused12 / 4095, "max_value": 4095.0, "sensor": "wv2", "ratio": 4})
    with h5py.File(tmp_path / "ref.h5", "w") as f:
        f["gt"] = gt12.transpose(2, 0, 1)[None]
        f.attrs["max_value"] = 4095.0
    out = tmp_path / "s.csv"
    result = CliRunner().invoke(cli, ["score", "--fused", str(tmp_path / "fused.mat"), "--reference",
                                      str(tmp_path / "ref.h5"), "--metrics", "ergas,q2n", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert "max_value 4095.0 as recorded" in " ".join(result.output.split())
    expected = fn.ergas(_t(fused12), _t(gt12), 4).item()
    assert _read_csv(out)["fused"]["ergas"] == pytest.approx(expected, rel=1e-6)
    # the same data scored on an 11-bit scale is refused, not silently wrong
    result = CliRunner().invoke(cli, ["score", "--fused", str(tmp_path / "fused.mat"), "--reference",
                                      str(tmp_path / "ref.h5"), "--max-value", "2047", "--metrics", "ergas"])
    assert result.exit_code == 2 and "above the scale max_value 2047" in " ".join(result.output.split())


def test_files_that_disagree_on_their_scale_are_refused(tmp_path: Path) -> None:
    from scipy.io import savemat

    gt, fused = _scene(0)
    savemat(tmp_path / "fused.mat", {"sr": fused / 2047, "max_value": 2047.0})
    savemat(tmp_path / "ref.mat", {"gt": gt / 1023, "max_value": 1023.0})
    result = CliRunner().invoke(cli, ["score", "--fused", str(tmp_path / "fused.mat"), "--reference",
                                      str(tmp_path / "ref.mat"), "--ratio", "4"])
    assert result.exit_code == 2 and "records max_value" in " ".join(result.output.split())
