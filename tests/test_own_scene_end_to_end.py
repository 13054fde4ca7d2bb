"""A user's own scene, end to end, as the README tells it: a real georeferenced 4-band WorldView-2 PAN/MS
pair with a no-data strip -> ``rsmif data simulate`` with only ``--pan --ms --sensor --out`` -> one epoch of
``rsmif run PLUGIN:pansharpening data=OUT`` for pnn and each method -> ``rsmif test RUN --type rr|fr
--save tif``. Every step runs in a fresh interpreter that turns warnings into errors."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest
import rasterio
from _helpers import shared_dir, wv2_geotiff_pair

from rsmif_core.plugins.factory import available

METHODS = ("pnn", "ramsf", "cf2n", "mmapp", "rsanet")
RATIO = 4


def rsmif(*args: str, cwd: Path) -> str:
    result = subprocess.run([sys.executable, "-W", "error", "-m", "rsmif_core.cli", *args], cwd=cwd,
                            capture_output=True, text=True, timeout=900)
    command = "rsmif " + " ".join(args)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    assert result.stderr == "", f"{command} printed to stderr:\n{result.stderr}"
    assert "Traceback" not in result.stdout and "Warning" not in result.stdout, result.stdout
    return result.stdout


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    shared = shared_dir()
    if not shared.is_dir():
        pytest.skip(f"shared reference folder not found at {shared}")
    root = tmp_path_factory.mktemp("own_scene")
    pan, ms = wv2_geotiff_pair(shared, root / "scene")
    rsmif("data", "simulate", "--pan", str(pan), "--ms", str(ms), "--sensor", "wv2", "--out", "data", cwd=root)
    return root, pan, ms


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_simulate_train_test_with_georeferenced_outputs(simulated: tuple[Path, Path, Path], method: str) -> None:
    root, pan_path, _ = simulated
    if method not in available("models"):
        pytest.skip(f"the plugin of {method} is not installed")
    run = f"runs/{method}"
    rsmif("run", f"{method}:pansharpening", "data=data", f"trainer.output_dir={run}", "trainer.epochs=1", cwd=root)
    with rasterio.open(pan_path) as src:
        crs, pan_pixel = src.crs, (src.transform.a, src.transform.e)
    for kind, pixel in (("rr", (pan_pixel[0] * RATIO, pan_pixel[1] * RATIO)), ("fr", pan_pixel)):
        printed = rsmif("test", run, "--type", kind, "--save", "tif", cwd=root)
        folder = root / run / f"test_{kind}_2"  # the run's own test at its end stays in test_<kind>
        assert f"holds an earlier test (kept; --overwrite replaces it): writing to {run}/test_{kind}_2" in printed
        assert (root / run / f"test_{kind}" / "per_image.json").is_file()
        with open(folder / "per_image.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert rows, printed
        values = [float(v) for row in rows for k, v in row.items() if k not in ("id", "image", "name")]
        assert values and all(math.isfinite(v) for v in values), rows
        tifs = sorted(folder.rglob("*.tif"))
        assert len(tifs) == len(rows), (kind, [t.name for t in tifs])
        for tif in tifs:
            with rasterio.open(tif) as src:
                assert src.crs == crs, tif
                assert (src.transform.a, src.transform.e) == pytest.approx(pixel), (tif, src.transform)
