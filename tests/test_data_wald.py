"""The Wald-protocol builder on real scenes (Landsat-7 .mat, WorldView-2 GeoTIFF, AVIRIS cube) and its CLI."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import rasterio
import scipy.io
import torch
from click.testing import CliRunner
from data.fixtures import HYPER_KEYS, MSHS_KEYS, write_h5, write_mat73

from rsmif_core import collate, create_dataset
from rsmif_core.cli import cli
from rsmif_core.data import synthetic
from rsmif_core.data.errors import DataError
from rsmif_core.data.layout import Request
from rsmif_core.data.rasters import Raster, check_pair, read_raster
from rsmif_core.data.simulation import SimulationOptions, simulate
from rsmif_core.data.wald import reduce_resolution
from rsmif_core.ops.interp import interp23tap
from rsmif_core.ops.mtf import mtf_degrade


@pytest.fixture
def landsat(shared: Path) -> tuple[Path, Path]:
    folder = shared / "data" / "landsat7-fusebox"
    return folder / "8_pan.mat", folder / "8_ms.mat"


def test_landsat_mat_scene_to_pancollection_files(tmp_path: Path, landsat: tuple[Path, Path]) -> None:
    pan_path, ms_path = landsat
    pan, ms = read_raster(pan_path), read_raster(ms_path)
    assert pan.array.shape == (1, 800, 800) and ms.array.shape == (6, 400, 400)
    assert check_pair(pan, ms, None) == 2
    crop = (Raster(pan_path, pan.array[:, :320, :320], "uint8"), Raster(ms_path, ms.array[:, :160, :160], "uint8"))
    request = Request(patch=32, test_size=32, fr_size=64)
    report = simulate([crop], tmp_path / "out", SimulationOptions(sensor="none", ratio=2, name="landsat7", request=request))
    assert set(report.files) == {"train", "valid", "test", "test_fr"}
    assert {p.name for p in report.files.values()} == {
        "train_landsat7.h5", "valid_landsat7.h5", "test_landsat7_multiExm1.h5", "test_landsat7_OrigScale_multiExm1.h5"}
    train = create_dataset("pancollection", path=str(report.files["train"]))
    assert (train.sensor, train.ratio, train.max_value, train.spectral_bands) == ("none", 2, 255.0, 6)
    assert len(train) + report.counts["valid"] == report.counts["train"] + report.counts["valid"]
    with h5py.File(report.files["train"]) as f:
        arrays = {k for k, v in f.items() if isinstance(v, h5py.Dataset)}  # plus the group source/ (item origins)
        assert arrays == {"gt", "lms", "ms", "pan"} and f["gt"].dtype == np.float64
        assert f["gt"].shape[1:] == (6, 32, 32) and f["ms"].shape[1:] == (6, 16, 16) and f["pan"].shape[1:] == (1, 32, 32)
    # the reference is the original MS; ms its MTF-degraded copy; lms the 23-tap upsampling of ms
    reduced = reduce_resolution(pan.array[:, :320, :320], ms.array[:, :160, :160], "none", 2)
    np.testing.assert_array_equal(reduced["gt"], ms.array[:, :160, :160])
    expected_ms = mtf_degrade(torch.from_numpy(ms.array[None, :, :160, :160]), "none", 2)[0].numpy()
    np.testing.assert_allclose(reduced["ms"], expected_ms)
    np.testing.assert_allclose(reduced["lms"], interp23tap(torch.from_numpy(expected_ms)[None], 2)[0].numpy())
    with h5py.File(report.files["test"]) as f:
        gt0 = np.asarray(f["gt"][0])
    held_out = ms.array[:, 160 - gt0.shape[1] : 160, : gt0.shape[2]]  # the test tiles come from the bottom strip
    np.testing.assert_array_equal(gt0, held_out)
    full = create_dataset("pancollection", path=str(report.files["test_fr"]))
    assert not full.has_reference and full[0]["pan"].shape == (1, 64, 64)
    tile = full[0]  # the full-resolution lms is interpolated from the tile's own MS, as the toolbox's FR examples
    own = interp23tap(tile["ms"][None].double(), 2)[0].float()
    torch.testing.assert_close(tile["lms"], own, rtol=1e-5, atol=1e-6)
    batch = collate([train[0], train[1]])
    assert batch.gt is not None and float(batch.gt.max()) <= 1.0


def test_mat_v73_reads_like_v5(tmp_path: Path, landsat: tuple[Path, Path]) -> None:
    ms_v5 = scipy.io.loadmat(landsat[1])["cropped_im"][:40, :48]
    path = write_mat73(tmp_path / "ms73.mat", "cropped_im", ms_v5.astype(np.float64))
    np.testing.assert_array_equal(read_raster(path).array, np.moveaxis(ms_v5, -1, 0))


def _native_wv2_ms(shared: Path, out: Path) -> Path:
    """The SpaceNet 6 MS at its native 2 m (the shipped file is a 2× nearest copy at 1 m)."""
    with rasterio.open(shared / "data" / "wv2-spacenet6" / "ms3.tif") as src:
        data = src.read()[:, ::2, ::2]
        profile = src.profile | {"width": data.shape[2], "height": data.shape[1],
                                 "transform": src.transform @ rasterio.Affine.scale(2.0)}
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
    return out


def test_wv2_geotiff_pair_through_the_cli(tmp_path: Path, shared: Path) -> None:
    pan = shared / "data" / "wv2-spacenet6" / "pan3.tif"
    ms = _native_wv2_ms(shared, tmp_path / "ms_native.tif")
    out = tmp_path / "wv2"
    result = CliRunner().invoke(cli, [
        "data", "simulate", "--pan", str(pan), "--ms", str(ms), "--sensor", "wv2", "--ratio", "4",
        "--mtf-gains", "0.3,0.32,0.34,0.28", "--patch", "24", "--stride", "12", "--test-size", "32", "--fr-size", "128",
        "--test-fraction", "0.3",
        "--out", str(out)])
    assert result.exit_code == 0, result.output
    train = create_dataset("pancollection", path=str(out / "train_wv2.h5"))
    assert (train.sensor, train.max_value, train.ratio, train.spectral_bands) == ("wv2", 2047.0, 4, 4)
    assert train.mtf_gains == (0.3, 0.32, 0.34, 0.28) and train[0]["pan"].shape == (1, 24, 24)
    assert "MTF gains 0.3, 0.32, 0.34, 0.28" in result.output and "note: " not in result.output.replace(
        "note: pan3.tif + ms_native.tif:", "")  # explicit sizes: nothing adapted, only the no-data note
    test = create_dataset("pancollection", path=str(out / "test_wv2_multiExm1.h5"))
    full = create_dataset("pancollection", path=str(out / "test_wv2_OrigScale_multiExm1.h5"))
    assert test.has_reference and not full.has_reference
    assert collate([full[0]]).pan.shape == (1, 1, 128, 128)
    info = CliRunner().invoke(cli, ["data", "info", str(out / "train_wv2.h5")])
    assert info.exit_code == 0 and "pancollection" in info.output and "no problems found" in info.output


def test_wrong_ratio_for_the_grids(tmp_path: Path, shared: Path) -> None:
    """The shipped 1 m copy of the WV2 MS is on a ratio-2 grid: asking for ratio 4 is an error."""
    pan = read_raster(shared / "data" / "wv2-spacenet6" / "pan3.tif")
    ms = read_raster(shared / "data" / "wv2-spacenet6" / "ms3.tif")
    with pytest.raises(DataError, match="ratio 4 does not match the grids"):
        check_pair(pan, ms, 4)
    assert check_pair(pan, ms, None) == 2


def test_geotiff_pair_on_different_grids(tmp_path: Path, shared: Path) -> None:
    ms_path = _native_wv2_ms(shared, tmp_path / "ms.tif")
    shifted = tmp_path / "ms_shifted.tif"
    with rasterio.open(ms_path) as src:
        profile = src.profile | {"transform": rasterio.Affine.translation(30.0, 0.0) @ src.transform}
        data = src.read()
    with rasterio.open(shifted, "w", **profile) as dst:
        dst.write(data)
    result = CliRunner().invoke(cli, ["data", "simulate", "--pan", str(shared / "data" / "wv2-spacenet6" / "pan3.tif"),
                                      "--ms", str(shifted), "--sensor", "wv2", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "different grids" in result.output and "pan3.tif" in result.output


def test_simulate_errors_name_the_problem(tmp_path: Path, landsat: tuple[Path, Path]) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["data", "simulate", "--pan", str(tmp_path / "nope.tif"), "--ms", str(landsat[1]),
                                  "--sensor", "none", "--out", str(tmp_path)])
    assert missing.exit_code == 2 and "nope.tif: no such file" in missing.output
    gains = runner.invoke(cli, ["data", "simulate", "--pan", str(landsat[0]), "--ms", str(landsat[1]),
                                "--sensor", "wv3", "--out", str(tmp_path)])
    assert gains.exit_code == 2 and "WV3 has MTF gains for 8 bands, but the image has 6" in gains.output


def _aviris(shared: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    mat = scipy.io.loadmat(shared / "data" / "aviris-santa-barbara" / "a_hsi_img_for_VI_demo.mat")
    cube = np.moveaxis(mat["hsi_img"].astype(np.float64), -1, 0)[:, :88, :88]
    return np.clip(cube, 0, None), tuple(float(w) for w in mat["wavelengths"].ravel())


def test_aviris_as_hyperpancollection_and_ms_hs(tmp_path: Path, shared: Path) -> None:
    """Real AVIRIS cube -> PAN / RGB by spectral response -> Wald pairs -> both HSI readers."""
    cube, wavelengths = _aviris(shared)
    rng = np.random.default_rng(0)
    pan = synthetic.guide_image(cube / 10000.0, wavelengths, "pan", rng) * 10000.0
    # HyperPanCollection-style: the cube is the reference, the PAN comes from it, the HSI is MTF-degraded
    arrays = {"gt": cube[None], "ms": synthetic.degrade(cube, 4)[None], "pan": pan[None]}
    path = write_h5(tmp_path / "Test_AVIRIS.h5", arrays, HYPER_KEYS)
    ds = create_dataset("hyperpancollection", path=str(path))
    assert (ds.spectral_bands, ds.ratio, ds.max_value, ds.lms_computed) == (224, 4, 10000.0, True)
    # the range is detected from the real values (reflectance × 10000, peak 8143), not assumed
    assert ds.value_range["how"] == "detected" and ds.value_range["observed_max"] == pytest.approx(cube.max(), rel=0.02)
    # the same scene stored as reflectance in [0, 1] (as Hyper-DSNet reads its files) is detected as such
    unit = write_h5(tmp_path / "Train_AVIRIS.h5", {k: v / 10000.0 for k, v in arrays.items()}, HYPER_KEYS)
    unit_ds = create_dataset("hyperpancollection", path=str(unit))
    assert unit_ds.max_value == 1.0 and unit_ds.value_range["how"] == "detected"
    torch.testing.assert_close(unit_ds[0]["gt"], ds[0]["gt"])
    item = ds[0]
    lms = interp23tap(torch.from_numpy(arrays["ms"]), 4)[0] / 10000.0
    torch.testing.assert_close(item["lms"], lms.float(), rtol=1e-5, atol=1e-6)
    assert collate([item]).gt is not None
    visible = [i for i, w in enumerate(wavelengths) if 400 <= w <= 700]
    vis = cube[visible]
    rgb = synthetic.guide_image(vis / 10000.0, tuple(wavelengths[i] for i in visible), "rgb", rng)
    low = synthetic.degrade(vis / 10000.0, 4)
    mshs_arrays = {"gt": vis[None] / 10000.0, "ms": low[None], "lms": interp23tap(torch.from_numpy(low)[None], 4).numpy(),
                   "pan": rgb[None]}
    ms_hs = write_h5(tmp_path / "test_aviris(with_up)x4_rgb.h5", mshs_arrays, MSHS_KEYS)
    mshs = create_dataset("ms-hs", path=str(ms_hs))
    assert mshs.guide_bands == 3 and mshs.spectral_bands == len(visible)
    batch = collate([mshs[0]])
    assert batch.ms.shape[-1] * 4 == batch.pan.shape[-1] == 88


def test_bicubic_pan_reduction_matches_imresize(landsat: tuple[Path, Path]) -> None:
    """``pan_method="bicubic"`` is DLPan's ``resize_images.m`` PAN reduction: MATLAB imresize(pan, 1/ratio)."""
    from rsmif_core.ops.interp import imresize

    pan = read_raster(landsat[0]).array[:, :64, :64]
    ms = read_raster(landsat[1]).array[:, :32, :32]
    reduced = reduce_resolution(pan, ms, "none", 2, pan_method="bicubic")
    expected = imresize(torch.from_numpy(pan)[None], scale=0.5)[0].clamp_min(0).numpy()
    np.testing.assert_allclose(reduced["pan"], expected)
    with pytest.raises(DataError, match="unknown PAN degradation 'area'"):
        reduce_resolution(pan, ms, "none", 2, pan_method="area")


def test_synthetic_pansharpening_sample_with_other_bands_and_ratio() -> None:
    ds = create_dataset("sample", task="pansharpening", split="val", scene="synthetic", bands=8, ratio=2)
    batch = collate([ds[0], ds[1]])
    assert batch.ms.shape == (2, 8, 16, 16) and batch.pan.shape == (2, 1, 32, 32)
