"""``rsmif predict`` on GeoTIFF scenes: seamless mosaics, georeference, grid matching, nodata, options, errors."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from _scenes import UTM31, make_run_folder, scene_arrays, whole_image, write_scene, write_tif
from click.testing import CliRunner
from rasterio.transform import Affine

from rsmif_core.cli import cli
from rsmif_core.models.weights import load_weights
from rsmif_core.plugins.factory import create_model

REPO = Path(__file__).resolve().parents[1]


def predict(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["predict", *args, "--no-progress"], catch_exceptions=False)
    return result.exit_code, result.output


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()


def trained_model(run: Path, name: str, bands: int, ratio: int) -> torch.nn.Module:
    state, meta = load_weights(run / "model.safetensors")
    model = create_model(name, spectral_bands=bands, guide_bands=1, ratio=ratio, **meta["arguments"])
    model.load_state_dict(state)
    return model


@pytest.fixture(scope="module")
def pnn_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run_folder(tmp_path_factory.mktemp("runs") / "pnn", "pnn", spectral_bands=4, ratio=4)


@pytest.mark.parametrize(("tile", "batch"), [(32, 1), (40, 3), (0, 1)])
def test_pnn_mosaic_equals_whole_image_inference(pnn_run: Path, tmp_path: Path, tile: int, batch: int) -> None:
    pan_path, ms_path = write_scene(tmp_path, 96, 136, ratio=4, bands=4)
    out = tmp_path / "fused.tif"
    code, text = predict(str(pnn_run), "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(out),
                         "--tile-size", str(tile), "--batch-size", str(batch), "--dtype", "float32")
    assert code == 0, text
    assert "max_value 2047 (from the run's data.test_fr" in text and "margin 8 px (receptive field 8)" in text
    reference = whole_image(trained_model(pnn_run, "pnn", 4, 4), read(pan_path), read(ms_path), 4, 2047.0)
    np.testing.assert_allclose(read(out) / 2047.0, reference, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_ramsf_mosaic_equals_whole_image_inference_inside_its_border_ring(tmp_path: Path) -> None:
    pytest.importorskip("rsmif_ramsf")
    run = make_run_folder(tmp_path / "ramsf", "ramsf", spectral_bands=4, ratio=4, feat_dim=16, guide_dim=16,
                          mlp_dim=(32, 16))
    pan_path, ms_path = write_scene(tmp_path, 96, 128, ratio=4, bands=4)
    out = tmp_path / "fused.tif"
    code, text = predict(str(run), "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(out), "--tile-size", "32",
                         "--dtype", "float32")
    assert code == 0, text
    assert "margin 20 px (receptive field 19)" in text and "alignment 4" in text
    reference = whole_image(trained_model(run, "ramsf", 4, 4), read(pan_path), read(ms_path), 4, 2047.0)
    diff = np.abs(read(out) / 2047.0 - reference)
    assert diff[:, 3:-3, 3:-3].max() < 1e-5  # RAMSF's outer 3 pixels depend on the image size, whole or tiled


def test_exp_output_is_the_whole_image_lms_with_the_pan_georeference(tmp_path: Path) -> None:
    """Parameter-free model by name; the lms wraps around the scene's edges like the toolbox's interp23tap."""
    from rsmif_core.data.h5 import upsample_lms

    pan_path, ms_path = write_scene(tmp_path, 64, 96, ratio=4, bands=3)
    out = tmp_path / "exp.tif"
    code, text = predict("exp", "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(out), "--tile-size", "16",
                         "--sensor", "wv2")
    assert code == 0, text
    assert "max_value 2047 (from the sensor 'wv2')" in text
    expected = np.clip(np.rint(upsample_lms(read(ms_path).astype(np.float64), 4)), 0, 65535)
    got = read(out)
    assert got.dtype == np.uint16
    np.testing.assert_allclose(got, expected, atol=1)  # float32 model units: a .5 may round the other way
    with rasterio.open(out) as dst:
        assert dst.nodata is None  # no input has nodata and the MS covers the PAN
    with rasterio.open(out) as dst, rasterio.open(pan_path) as pan:
        assert dst.crs == pan.crs == UTM31 and dst.transform == pan.transform
        assert (dst.height, dst.width, dst.count) == (pan.height, pan.width, 3)
        assert dst.profile["tiled"] and dst.profile["compress"] == "deflate"
        assert dst.tags()["RSMIF_MODEL"] == "exp" and dst.tags()["RSMIF_WHOLE_IMAGE_EQUAL"] == "yes"
        assert dst.tags()["max_value"] == "2047" and dst.tags()["ratio"] == "4"
    # rsmif score reads the scale and ratio from the output (3 bands: the generic MTF gains)
    from click.testing import CliRunner

    from rsmif_core.cli import cli

    scored = CliRunner().invoke(cli, ["score", "--fused", str(out), "--pan", str(pan_path), "--ms", str(ms_path),
                                      "--sensor", "none", "--metrics", "d_lambda_k"])
    assert scored.exit_code == 0, scored.output


def test_happy_path_cli_runs_clean_under_warnings_as_errors(pnn_run: Path, tmp_path: Path) -> None:
    pan_path, ms_path = write_scene(tmp_path, 64, 64, ratio=4, bands=4)
    out = tmp_path / "fused.tif"
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    proc = subprocess.run([sys.executable, "-W", "error", "-m", "rsmif_core.cli", "predict", str(pnn_run), "--pan",
                           str(pan_path), "--ms", str(ms_path), "--out", str(out), "--tile-size", "32"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "tiles/s" in proc.stderr and "ETA" in proc.stderr
    assert out.is_file() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_ms_covering_part_of_the_pan_and_any_integer_ratio(tmp_path: Path) -> None:
    """Ratio 3 (bicubic lms) with the MS starting 2 MS pixels down and 1 across: the rest of the PAN is nodata."""
    from rsmif_core.data.h5 import upsample_lms

    pan_path, ms_path = write_scene(tmp_path, 72, 90, ratio=3, bands=2, ms_offset=(2, 1), ms_shape=(20, 30))
    out = tmp_path / "exp.tif"
    code, text = predict("exp", "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(out), "--max-value", "2047",
                         "--dtype", "float32", "--tile-size", "24")
    assert code == 0, text
    assert "the rest is nodata" in text
    got = read(out)
    # the 20×30 MS pixels start at PAN row 6, column 3; the PAN ends at column 90: 20 × 29 MS pixels fit
    ms = read(ms_path).astype(np.float64)[:, :20, :29]
    expected = upsample_lms(ms, 3).astype(np.float32)
    np.testing.assert_allclose(got[:, 6:66, 3:90], expected, rtol=1e-6, atol=1e-3)
    assert np.isnan(got[:, :6]).all() and np.isnan(got[:, 66:]).all() and np.isnan(got[:, :, :3]).all()
    with rasterio.open(out) as dst:
        assert np.isnan(dst.nodata)


def test_nodata_in_either_input_stays_nodata(tmp_path: Path) -> None:
    pan, ms = scene_arrays(64, 64, 4, 3)
    pan[0, 10:14, 20:22] = 0
    ms[1, 5, 7] = 65535  # one band of one MS pixel: the whole 4×4 PAN block is nodata
    x0, y0 = 593000.0, 5750400.0
    pan_path = write_tif(tmp_path / "pan.tif", pan, Affine(0.5, 0, x0, 0, -0.5, y0), nodata=0)
    ms_path = write_tif(tmp_path / "ms.tif", ms, Affine(2.0, 0, x0, 0, -2.0, y0), nodata=65535)
    out = tmp_path / "fused.tif"
    code, text = predict("exp", "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(out), "--max-value", "2047",
                         "--tile-size", "32")
    assert code == 0, text
    got = read(out)
    with rasterio.open(out) as dst:
        assert dst.nodata == 65535  # the MS's
    invalid = got[0] == 65535
    expected = np.zeros((64, 64), dtype=bool)
    expected[10:14, 20:22] = True
    expected[20:24, 28:32] = True
    np.testing.assert_array_equal(invalid, expected)
    assert (got[:, invalid] == 65535).all() and (got[:, ~invalid] != 65535).all()


def test_non_finite_float_inputs_are_nodata(tmp_path: Path) -> None:
    pan, ms = scene_arrays(32, 32, 4, 2)
    pan_f = pan.astype(np.float32)
    pan_f[0, 3, 4] = np.nan
    x0, y0 = 593000.0, 5750400.0
    pan_path = write_tif(tmp_path / "pan.tif", pan_f, Affine(0.5, 0, x0, 0, -0.5, y0))
    ms_path = write_tif(tmp_path / "ms.tif", ms, Affine(2.0, 0, x0, 0, -2.0, y0))
    out = tmp_path / "fused.tif"
    code, text = predict("pnn", "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(out), "--max-value", "2047")
    assert code == 2 and "has trained weights" in text  # pnn by name: no weights
    code, text = predict("exp", "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(out), "--max-value", "2047",
                         "--dtype", "float32")
    assert code == 0, text
    got = read(out)
    assert np.isnan(got[:, 3, 4]).all() and np.isfinite(np.delete(got.reshape(2, -1), 3 * 32 + 4, axis=1)).all()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"ms_crs": "EPSG:32632"}, "its CRS EPSG:32632 differs from the PAN's"),
    ({"ms_pixel": 1.7}, "is not an integer multiple of the PAN's"),
    ({"ms_offset": (0.1, 0)}, "do not fall on PAN pixel corners"),
    ({"ms_offset": (30, 0)}, "does not overlap the PAN"),
])
def test_grids_that_do_not_fit_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    pan_path, ms_path = write_scene(tmp_path, 64, 64, ratio=4, bands=2, **kwargs)
    out = tmp_path / "fused.tif"
    code, text = predict("exp", "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(out), "--max-value", "2047")
    assert code == 2, text
    assert message in " ".join(text.split())
    assert not out.exists() and list(tmp_path.glob(".fused.tif*")) == []


def test_one_image_without_georeference_is_refused_and_two_match_by_shape(tmp_path: Path) -> None:
    pan, ms = scene_arrays(32, 32, 4, 2)
    pan_path = write_tif(tmp_path / "pan.tif", pan, None)
    ms_geo = write_tif(tmp_path / "ms_geo.tif", ms, Affine(2.0, 0, 0, 0, -2.0, 0))
    ms_plain = write_tif(tmp_path / "ms.tif", ms, None)
    code, text = predict("exp", "--pan", str(pan_path), "--ms", str(ms_geo), "--out", str(tmp_path / "a.tif"),
                         "--max-value", "2047")
    assert code == 2 and "has no georeference" in " ".join(text.split())
    code, text = predict("exp", "--pan", str(pan_path), "--ms", str(ms_plain), "--out", str(tmp_path / "b.tif"),
                         "--max-value", "2047")
    assert code == 0, text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        assert read(tmp_path / "b.tif").shape == (2, 32, 32)


def test_existing_output_needs_overwrite_and_is_replaced_whole(pnn_run: Path, tmp_path: Path) -> None:
    pan_path, ms_path = write_scene(tmp_path, 32, 32, ratio=4, bands=4)
    out = tmp_path / "fused.tif"
    out.write_bytes(b"earlier result")
    args = [str(pnn_run), "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(out)]
    code, text = predict(*args)
    assert code == 2 and "--overwrite" in text and out.read_bytes() == b"earlier result"
    code, text = predict(*args, "--overwrite")
    assert code == 0, text
    assert read(out).shape == (4, 32, 32)


def test_a_failure_midway_leaves_no_output_and_keeps_the_earlier_file(pnn_run: Path, tmp_path: Path) -> None:
    from rsmif_core.errors import RunFailure
    from rsmif_core.run.predict import PredictRequest, prepare_prediction, run_prediction

    pan_path, ms_path = write_scene(tmp_path, 64, 64, ratio=4, bands=4)
    out = tmp_path / "fused.tif"
    out.write_bytes(b"earlier result")
    setup = prepare_prediction(PredictRequest(str(pnn_run), pan_path, ms_path, out, tile=16, overwrite=True))
    calls = []

    class Failing(torch.nn.Module):
        def forward(self, batch: object) -> object:
            calls.append(1)
            if len(calls) == 5:
                raise MemoryError("out of memory (simulated)")
            return setup.model(batch)

    setup.model = Failing()
    with pytest.raises(RunFailure, match="out of memory"):
        run_prediction(setup)
    assert out.read_bytes() == b"earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fused.tif", "ms.tif", "pan.tif"]


def test_weights_for_another_geometry_and_unknown_sources_are_clear_errors(pnn_run: Path, tmp_path: Path) -> None:
    pan_path, ms_path = write_scene(tmp_path, 32, 32, ratio=4, bands=3)  # the run has 4 bands
    out = tmp_path / "fused.tif"
    code, text = predict(str(pnn_run), "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(out))
    assert code == 2 and "spectral_bands 4 (configured: 3)" in text and "the scene has 3 spectral" in text
    code, text = predict("no-such-model", "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(out))
    assert code == 2 and "neither a run folder" in text
    code, text = predict("exp", "--pan", str(pan_path), "--ms", str(tmp_path / "missing.tif"), "--out", str(out))
    assert code == 2 and "missing.tif: no such file" in text
    assert not out.exists()


def test_uint16_input_without_a_scale_asks_for_one(tmp_path: Path) -> None:
    pan_path, ms_path = write_scene(tmp_path, 32, 32, ratio=4, bands=2)
    code, text = predict("exp", "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(tmp_path / "o.tif"))
    assert code == 2 and "--max-value" in text


def test_model_name_with_a_weights_file_and_config_with_checkpoint(pnn_run: Path, tmp_path: Path) -> None:
    pan_path, ms_path = write_scene(tmp_path, 32, 32, ratio=4, bands=4)
    outs = []
    for i, source in enumerate((["pnn", "--checkpoint", str(pnn_run / "model.safetensors")],
                                [str(pnn_run / "config.yaml"), "--checkpoint", str(pnn_run)])):
        outs.append(tmp_path / f"o{i}.tif")
        code, text = predict(*source, "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(outs[-1]),
                             "--max-value", "2047", "--dtype", "float32")
        assert code == 0, text
    np.testing.assert_array_equal(read(outs[0]), read(outs[1]))


def test_cog_output(tmp_path: Path) -> None:
    pan_path, ms_path = write_scene(tmp_path, 600, 520, ratio=4, bands=2)
    out = tmp_path / "fused.tif"
    code, text = predict("exp", "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(out), "--max-value", "2047",
                         "--cog", "--compress", "zstd")
    assert code == 0, text
    with rasterio.open(out) as dst:
        assert dst.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert dst.overviews(1) and dst.profile["compress"] == "zstd"
        assert dst.transform == rasterio.open(pan_path).transform
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fused.tif", "ms.tif", "pan.tif"]


def test_global_model_gets_per_tile_statistics_and_says_so(tmp_path: Path) -> None:
    """A model with a global operation runs on each window on its own: a core holds what the model gives for its
    window (here: statistics of the window, not of the scene); --tile-size 0 runs the whole scene at once."""
    from rsmif_core.data.h5 import upsample_lms
    from rsmif_core.evaluation.scene import plan_tiles
    from rsmif_core.plugins.manager import registry
    from rsmif_core.plugins.registry import Entry
    from rsmif_core.types import Batch, BatchMeta, FusionModel, FusionOutput

    class GlobalMean(FusionModel):
        """lms shifted so that each band's mean over the input equals the PAN's mean: a global statistic."""

        def forward(self, batch: Batch) -> FusionOutput:
            lms = batch.lms
            shift = batch.pan.mean(dim=(1, 2, 3), keepdim=True) - lms.mean(dim=(2, 3), keepdim=True)
            return FusionOutput(fused=lms + shift)

    registry().add(Entry("models", "global_mean_test", GlobalMean, "tests", "tests", "0"))
    try:
        pan_path, ms_path = write_scene(tmp_path, 128, 128, ratio=4, bands=2)
        common = ["--pan", str(pan_path), "--ms", str(ms_path), "--max-value", "2047", "--dtype", "float32"]
        code, text = predict("global_mean_test", *common, "--out", str(tmp_path / "tiled.tif"), "--tile-size", "32")
        assert code == 0, text
        assert "declares no receptive field" in " ".join(text.split()) and "margin 32 px" in text
        code, text = predict("global_mean_test", *common, "--out", str(tmp_path / "whole.tif"), "--tile-size", "0")
        assert code == 0, text
        assert "declares no receptive field" not in text
    finally:
        registry()._table("models").pop("global_mean_test", None)
    model = GlobalMean(2, 1, 4)
    pan, ms = read(pan_path) / 2047.0, read(ms_path) / 2047.0
    whole = whole_image(model, read(pan_path), read(ms_path), 4, 2047.0)
    np.testing.assert_allclose(read(tmp_path / "whole.tif") / 2047.0, whole, atol=1e-5)
    tiled = read(tmp_path / "tiled.tif") / 2047.0
    assert np.abs(tiled - whole).max() > 1e-3  # not whole-image inference...
    with rasterio.open(tmp_path / "tiled.tif") as dst:
        assert dst.tags()["RSMIF_WHOLE_IMAGE_EQUAL"].startswith("no")
    lms = upsample_lms(ms, 4)  # ...but each core is the model on its own window (whose lms is the scene's)
    for tile in plan_tiles(128, 128, 32, 32, 4):
        rows, cols = tile.rows, tile.cols
        g = (slice(None), slice(rows.start, rows.start + rows.size), slice(cols.start, cols.start + cols.size))
        m = (slice(None), slice(rows.start // 4, (rows.start + rows.size) // 4), slice(cols.start // 4, (cols.start + cols.size) // 4))
        batch = Batch(pan=torch.from_numpy(pan[g]).float()[None], ms=torch.from_numpy(ms[m]).float()[None],
                      lms=torch.from_numpy(lms[g]).float()[None], meta=BatchMeta(ratio=4))
        out = model(batch).fused[0].numpy()
        np.testing.assert_allclose(tiled[:, rows.core_start : rows.core_stop, cols.core_start : cols.core_stop],
                                   out[:, rows.crop, cols.crop], atol=1e-5)


def test_a_failing_writer_stops_the_run_promptly(pnn_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer thread fails (a full disk, say) while the model thread waits to hand it more tiles: the run stops
    with the writer's error instead of waiting forever, and nothing is left behind."""
    import time

    from rsmif_core.errors import RunFailure
    from rsmif_core.evaluation.scene.writer import SceneWriter
    from rsmif_core.run.predict import PredictRequest, prepare_prediction, run_prediction

    def full_disk(self: SceneWriter, *args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SceneWriter, "write", full_disk)
    pan_path, ms_path = write_scene(tmp_path, 128, 128, ratio=4, bands=4)
    out = tmp_path / "fused.tif"
    setup = prepare_prediction(PredictRequest(str(pnn_run), pan_path, ms_path, out, tile=16))
    started = time.monotonic()
    with pytest.raises(RunFailure, match="No space left on device"):
        run_prediction(setup)
    assert time.monotonic() - started < 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ms.tif", "pan.tif"]


def test_mixed_precision_batches(pnn_run: Path, tmp_path: Path) -> None:
    pan_path, ms_path = write_scene(tmp_path, 64, 64, ratio=4, bands=4)
    outs = {}
    for precision in ("no", "bf16"):
        outs[precision] = tmp_path / f"{precision}.tif"
        code, text = predict(str(pnn_run), "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(outs[precision]),
                             "--precision", precision, "--batch-size", "4", "--tile-size", "16", "--dtype", "float32")
        assert code == 0, text
        assert ("precision bf16" if precision == "bf16" else "precision fp32") in text
    diff = np.abs(read(outs["bf16"]) - read(outs["no"])) / 2047.0
    assert 0 < diff.max() < 1e-2  # bfloat16 has 8 bits of mantissa


def test_a_shipped_config_name_with_a_checkpoint(tmp_path: Path) -> None:
    """SOURCE may be a shipped config's name (PLUGIN:TASK) with --checkpoint, as a config file can."""
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", "pnn:pansharpening", "trainer.max_steps=1", f"trainer.output_dir={run}",
                                      "trainer.progress=false", "data.test=null", "data.test_fr=null",
                                      "runtime.threads=1"])
    assert result.exit_code == 0, result.output
    pan_path, ms_path = write_scene(tmp_path, 32, 32, ratio=2, bands=6)
    outs = [tmp_path / "by-name.tif", tmp_path / "by-run.tif"]
    for out, source in zip(outs, (["pnn:pansharpening", "--checkpoint", str(run / "model.safetensors")], [str(run)])):
        code, text = predict(*source, "--pan", str(pan_path), "--ms", str(ms_path), "--out", str(out),
                             "--max-value", "2047", "--dtype", "float32")
        assert code == 0, text
    np.testing.assert_array_equal(read(outs[0]), read(outs[1]))
    code, text = predict("pnn:pansharpenin", "--pan", str(pan_path), "--ms", str(ms_path), "--out",
                         str(tmp_path / "x.tif"))
    assert code == 2 and "Did you mean 'pnn:pansharpening'" in text and not (tmp_path / "x.tif").exists()
