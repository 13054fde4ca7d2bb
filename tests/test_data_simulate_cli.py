"""``rsmif data simulate`` as a new user runs it: the real WorldView-2 GeoTIFF pair with no-data, default
options, then everything the files and the manifest must say, and the Landsat-7 .mat scene (no georeference)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import rasterio
import scipy.io
import torch
import yaml
from _helpers import shared_dir, wv2_geotiff_pair
from click.testing import CliRunner

from rsmif_core import collate, create_dataset
from rsmif_core.cli import cli
from rsmif_core.data.manifest import MANIFEST_NAME, dataset_sections
from rsmif_core.metrics import functional as fn

WV2_GAINS = [0.35, 0.35, 0.35, 0.35]  # blue, green, red, NIR1 of the 8-band table (0.35 ×7, 0.27)
FILES = {"train": "train_wv2.h5", "valid": "valid_wv2.h5", "test": "test_wv2_multiExm1.h5",
         "test_fr": "test_wv2_OrigScale_multiExm1.h5"}


@dataclass
class Run:
    pan: Path
    ms: Path
    out: Path
    result: subprocess.CompletedProcess[str]

    def manifest(self) -> dict:
        return yaml.safe_load((self.out / MANIFEST_NAME).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def wv2(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The defaults on the real pair, in a fresh interpreter that turns every warning into an error."""
    shared = shared_dir()
    if not shared.is_dir():
        pytest.skip(f"shared reference folder not found at {shared} (set RSMIF_SHARED)")
    root = tmp_path_factory.mktemp("wv2")
    pan, ms = wv2_geotiff_pair(shared, root / "scene")
    out = root / "out"
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "rsmif_core.cli", "data", "simulate", "--pan", str(pan), "--ms", str(ms),
         "--sensor", "wv2", "--out", str(out)], capture_output=True, text=True, timeout=600)
    return Run(pan, ms, out, result)


def _read(path: Path) -> tuple[np.ndarray, rasterio.Affine]:
    with rasterio.open(path) as src:
        return src.read().astype(np.float64), src.transform


@pytest.mark.slow  # the module's first test starts a fresh interpreter (with -W error) for the shared run
def test_defaults_exit_0_without_a_warning_and_say_what_they_chose(wv2: Run) -> None:
    assert wv2.result.returncode == 0, wv2.result.stderr
    assert wv2.result.stderr == ""
    out = wv2.result.stdout
    assert "note: MTF gains 0.35, 0.35, 0.35, 0.35: WV2 table, bands blue, green, red, NIR1 (the 4-band product)" in out
    assert "reduced-resolution test tiles 32 (default 256)" in out and "full-resolution test tiles 128 (default 512)" in out
    assert "the defaults do not fit the area with data" in out
    counts = dict(line.split()[:2] for line in out.splitlines() if line.split()[:1] and line.split()[0] in FILES)
    manifest = wv2.manifest()
    assert {split: int(n) for split, n in counts.items()} == {s: e["items"] for s, e in manifest["splits"].items()}
    dropped = next(line for line in out.splitlines() if line.startswith("dropped for touching no-data"))
    assert dropped == "dropped for touching no-data: " + ", ".join(
        f"{split} {n}" for split, n in manifest["scenes"][0]["dropped_for_nodata"].items())
    assert sorted(p.name for p in wv2.out.iterdir()) == sorted([*FILES.values(), MANIFEST_NAME])


def test_every_test_tile_is_a_multiple_of_the_q_block_and_scores(wv2: Run) -> None:
    test = create_dataset("pancollection", path=str(wv2.out / FILES["test"]))
    full = create_dataset("pancollection", path=str(wv2.out / FILES["test_fr"]))
    assert test.layout.high_hw[0] % 32 == 0 and test.layout.high_hw == (32, 32)
    assert full.layout.high_hw[0] % 32 == 0 and full.layout.high_hw == (128, 128)
    rr, fr = collate([test[i] for i in range(len(test))]), collate([full[i] for i in range(len(full))])
    assert rr.gt is not None
    scale = test.max_value
    q2n = fn.q2n(rr.lms.double() * scale, rr.gt.double() * scale)
    hqnr = fn.hqnr(fr.lms.double() * scale, fr.pan.double() * scale, fr.ms.double() * scale, 4, "wv2")
    assert q2n.shape == (len(test),) and bool(((q2n > 0) & (q2n <= 1)).all())
    assert hqnr.shape == (len(full),) and bool(((hqnr > 0) & (hqnr <= 1)).all())


def test_no_item_touches_nodata_and_items_are_the_source_pixels(wv2: Run) -> None:
    pan, _ = _read(wv2.pan)
    ms, _ = _read(wv2.ms)
    pan_ok, ms_ok = pan[0] != 0, (ms != 0).any(axis=0)
    for split, file in FILES.items():
        with h5py.File(wv2.out / file) as f:
            origins = np.asarray(f["source/origin"])
            key = "pan" if split == "test_fr" else "gt"
            size = f[key].shape[-1]
            assert len(origins) == f[key].shape[0] > 0
            for i, (scene, row, col) in enumerate(origins):
                assert scene == 0
                if split == "test_fr":  # the full-resolution PAN tile is the source PAN
                    assert pan_ok[row : row + size, col : col + size].all()
                    np.testing.assert_array_equal(f["pan"][i], pan[:, row : row + size, col : col + size])
                else:  # the reference is the source MS: the item's ground, on the MS grid
                    r, c = row // 4, col // 4
                    assert ms_ok[r : r + size, c : c + size].all()
                    assert pan_ok[row : row + 4 * size, col : col + 4 * size].all()
                    np.testing.assert_array_equal(f["gt"][i], ms[:, r : r + size, c : c + size])


def test_splits_are_spatially_disjoint(wv2: Run) -> None:
    covered = {}
    for split, file in FILES.items():
        with h5py.File(wv2.out / file) as f:
            size = f["pan"].shape[-1] * (1 if split == "test_fr" else 4)
            mask = np.zeros((600, 600), dtype=bool)
            for _, row, col in np.asarray(f["source/origin"]):
                mask[row : row + size, col : col + size] = True
        covered[split] = mask
    assert not (covered["train"] & covered["valid"]).any()
    for held_out in ("test", "test_fr"):
        assert not ((covered["train"] | covered["valid"]) & covered[held_out]).any()


def test_manifest_and_attributes_record_sensor_gains_scale_and_sources(wv2: Run) -> None:
    manifest = wv2.manifest()
    assert (manifest["sensor"], manifest["ratio"], manifest["max_value"], manifest["mtf_gains"]) == ("wv2", 4, 2047.0, WV2_GAINS)
    assert "blue, green, red, NIR1" in manifest["mtf_gains_source"] and manifest["georeferenced"] is True
    assert manifest["protocol"]["name"] == "wald" and manifest["protocol"]["test_size"] == 32
    scene = manifest["scenes"][0]
    assert (scene["pan"], scene["ms"]) == (str(wv2.pan.resolve()), str(wv2.ms.resolve()))
    assert scene["crs"] == "EPSG:32631" and scene["pan_nodata"] == 0.0 and sum(scene["dropped_for_nodata"].values()) > 0
    for split, file in FILES.items():
        assert manifest["splits"][split]["file"] == file
        with h5py.File(wv2.out / file) as f:
            attrs = dict(f.attrs)
        assert (attrs["sensor"], int(attrs["ratio"]), float(attrs["max_value"])) == ("wv2", 4, 2047.0)
        assert attrs["mtf_gains"].tolist() == WV2_GAINS and attrs["split"] == split
        assert json.loads(attrs["files"]) == FILES and json.loads(attrs["source"]) == manifest["scenes"]
        assert json.loads(attrs["protocol"]) == manifest["protocol"]
        dataset = create_dataset("pancollection", path=str(wv2.out / file))
        assert (dataset.sensor, dataset.ratio, dataset.max_value, dataset.mtf_gains) == ("wv2", 4, 2047.0, tuple(WV2_GAINS))
        assert collate([dataset[0], dataset[1]]).meta.mtf_gains == tuple(WV2_GAINS)


def test_tile_transforms_are_on_the_grids_and_locate_the_tiles(wv2: Run) -> None:
    pan, pan_transform = _read(wv2.pan)
    ms, ms_transform = _read(wv2.ms)
    manifest = wv2.manifest()
    for split, source, transform, pixel in (("test", ms, ms_transform, pan_transform.a * 4),
                                            ("test_fr", pan, pan_transform, pan_transform.a)):
        dataset = create_dataset("pancollection", path=str(wv2.out / FILES[split]))
        tiles = manifest["splits"][split]["tiles"]
        assert len(tiles) == len(dataset)
        key = "gt" if split == "test" else "pan"
        for i, tile in enumerate(tiles):
            item = dataset[i]
            assert item["crs"] == tile["crs"] == "EPSG:32631"
            assert item["transform"] == pytest.approx(tile["transform"], abs=1e-9)
            a, b, c, d, e, f = item["transform"]
            assert (a, b, d, e) == pytest.approx((pixel, 0.0, 0.0, -pixel))
            # the tile's upper-left corner, located on the source file's own grid, is where its pixels came from
            col, row = ~transform @ (c, f)
            assert abs(col - round(col)) < 0.01 and abs(row - round(row)) < 0.01
            r, k = round(row), round(col)
            size = item[key].shape[-1]
            np.testing.assert_allclose(item[key].double().numpy() * dataset.max_value,
                                       source[:, r : r + size, k : k + size], rtol=1e-6)
    with h5py.File(wv2.out / FILES["test"]) as f:
        assert f["georef/transform"].shape == (len(manifest["splits"]["test"]["tiles"]), 6)


def test_the_folder_gives_a_run_its_four_datasets(wv2: Run) -> None:
    sections = dataset_sections(wv2.out)
    assert set(sections) == {"train", "val", "test", "test_fr"}
    assert sections["val"] == {"name": "pancollection", "args": {"path": str((wv2.out / FILES["valid"]).resolve())}}
    for section in sections.values():
        assert len(create_dataset(section["name"], **section["args"])) > 0


def _bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _simulate(wv2: Run, out: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["data", "simulate", "--pan", str(wv2.pan), "--ms", str(wv2.ms), "--sensor", "wv2",
                                      "--out", str(out), *extra])
    return result.exit_code, result.output


@pytest.fixture
def earlier(tmp_path: Path) -> Path:
    """An output folder holding an earlier simulation's files and a file of the user's."""
    out = tmp_path / "out"
    out.mkdir()
    for name in (*FILES.values(), MANIFEST_NAME, "my-notes.txt"):
        (out / name).write_bytes(name.encode() * 3)
    return out


def test_a_folder_that_holds_files_is_refused(wv2: Run, earlier: Path) -> None:
    before = _bytes(earlier)
    code, output = _simulate(wv2, earlier)
    assert code == 2 and str(earlier) in output and "--overwrite" in output and "already holds files" in output
    assert _bytes(earlier) == before


def test_out_naming_a_file_is_refused(wv2: Run, tmp_path: Path) -> None:
    target = tmp_path / "result.h5"
    target.write_bytes(b"mine")
    code, output = _simulate(wv2, target)
    assert code == 2 and "the output must be a folder; this is a file" in output and str(target) in output
    code, output = _simulate(wv2, target / "sub")
    assert code == 2 and f"{target} is a file" in output
    assert target.read_bytes() == b"mine"


@pytest.mark.parametrize(("option", "message"), [
    (["--mtf-gains", "0"], "--mtf-gains: expected 4 gains (one per MS band), each above 0 and below 1"),
    (["--mtf-gains", "0.3,0.3,0.3,1.2"], "found 0.3, 0.3, 0.3, 1.2"),
    (["--mtf-gains", "0.3,x"], "expected comma-separated numbers"),
    (["--test-size", "100"], "test size 100 must be a positive multiple of 32"),
    (["--test-size", "64"], "test size 64 does not fit pan.tif + ms.tif (area with data 88×148 MS pixels): at most 32"),
    (["--fr-size", "256"], "full-resolution test size 256 does not fit"),
    (["--patch", "48"], "the area with data is 88×148 MS pixels; the simulation needs at least 128 rows (training and "
                        "validation patches of 48 and a test strip of 32)"),
    (["--patch", "30"], "patch 30 must be a positive multiple of the ratio 4"),
    (["--split", "0"], "split must lie in (0, 1]"),
    (["--name", "a/b"], "name 'a/b' must be usable in a file name"),
])
def test_bad_options_are_refused_and_nothing_is_written(wv2: Run, tmp_path: Path, option: list[str], message: str) -> None:
    out = tmp_path / "out"
    code, output = _simulate(wv2, out, *option)
    assert code == 2 and message in output and "Traceback" not in output
    assert not out.exists()


def test_overwrite_replaces_only_the_simulation_files(wv2: Run, earlier: Path) -> None:
    mine = (earlier / "my-notes.txt").read_bytes()
    (earlier / MANIFEST_NAME).write_text(yaml.safe_dump({"splits": {"train": {"file": "train_old.h5"}}}))
    (earlier / "train_old.h5").write_bytes(b"old")
    code, output = _simulate(wv2, earlier, "--overwrite")
    assert code == 0, output
    assert "kept from the earlier simulation (no longer in rsmif-data.yaml): train_old.h5" in output
    assert (earlier / "my-notes.txt").read_bytes() == mine and (earlier / "train_old.h5").read_bytes() == b"old"
    for file in FILES.values():  # each earlier file replaced by the new simulation's
        with h5py.File(earlier / file) as new, h5py.File(wv2.out / file) as reference:
            np.testing.assert_array_equal(new["pan"][()], reference["pan"][()])
    assert yaml.safe_load((earlier / MANIFEST_NAME).read_text())["splits"]["train"]["file"] == FILES["train"]
    assert not [p for p in earlier.iterdir() if p.name.startswith(".")]


def test_a_folder_in_the_way_of_a_file_is_refused(wv2: Run, earlier: Path) -> None:
    (earlier / FILES["test"]).unlink()
    (earlier / FILES["test"]).mkdir()
    (earlier / FILES["test"] / "inside.txt").write_text("x")
    before = _bytes(earlier)
    code, output = _simulate(wv2, earlier, "--overwrite")
    assert code == 2 and f"{earlier / FILES['test']}: the simulation writes a file here, but this is a folder" in output
    assert _bytes(earlier) == before


def test_a_failed_write_changes_nothing(wv2: Run, earlier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The third file fails to write (as on a full disk): the two written before it never reach the folder."""
    from rsmif_core.data import simulation

    real = simulation._write_h5
    calls = []

    def failing(path: Path, *args: object) -> None:
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(simulation, "_write_h5", failing)
    before = _bytes(earlier)
    code, output = _simulate(wv2, earlier, "--overwrite")
    assert code == 1 and "No space left on device" in output and f"nothing in {earlier} was changed" in output
    assert str(earlier / FILES["test"]) in output
    assert _bytes(earlier) == before and sorted(p.name for p in earlier.iterdir()) == sorted(before)


def test_a_read_only_folder_is_a_failure_that_changes_nothing(wv2: Run, earlier: Path) -> None:
    earlier.chmod(0o555)
    try:
        probe = earlier / "probe"
        try:
            probe.write_text("x")
        except PermissionError:
            pass
        else:
            probe.unlink()
            pytest.skip("this user writes into read-only folders (root)")
        before = _bytes(earlier)
        code, output = _simulate(wv2, earlier, "--overwrite")
        assert code == 1 and f"could not write to {earlier}" in output and "Permission denied" in output
        assert _bytes(earlier) == before
    finally:
        earlier.chmod(0o755)


def test_too_few_patches_for_a_split_is_a_clear_error(wv2: Run, tmp_path: Path) -> None:
    """No-data columns every 12 MS pixels: every 16-pixel training patch touches one."""
    pan, pan_transform = _read(wv2.pan)
    ms, ms_transform = _read(wv2.ms)
    ms[:, :, ::12] = 0
    pan[:, :, ::48] = 0
    paths = []
    for name, array, transform in (("pan.tif", pan, pan_transform), ("ms.tif", ms, ms_transform)):
        with rasterio.open(wv2.pan if name == "pan.tif" else wv2.ms) as src:
            profile = src.profile
        with rasterio.open(tmp_path / name, "w", **(profile | {"transform": transform})) as dst:
            dst.write(array.astype(np.uint16))
        paths.append(tmp_path / name)
    result = CliRunner().invoke(cli, ["data", "simulate", "--pan", str(paths[0]), "--ms", str(paths[1]), "--sensor", "wv2",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "too few training patches remain for the train split: all " in result.output
    assert "cut touch no-data (pan.tif + ms.tif: rows 60–100 of the reduced grid)" in result.output
    assert not (tmp_path / "out").exists()


def test_several_scenes_each_split_in_its_own_strips(wv2: Run, tmp_path: Path) -> None:
    second_pan, second_ms = wv2_geotiff_pair(shared_dir(), tmp_path / "second", nodata_columns=(20, 26))
    listing = tmp_path / "scenes.txt"
    listing.write_text(f"# one scene per line\n'{wv2.pan}' {wv2.ms}\nsecond/pan.tif second/ms.tif  # relative\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["data", "simulate", "--scenes", str(listing), "--sensor", "wv2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load((out / MANIFEST_NAME).read_text())
    assert [s["pan"] for s in manifest["scenes"]] == [str(wv2.pan.resolve()), str(second_pan.resolve())]
    for split, entry in manifest["splits"].items():
        assert entry["items"] == sum(s["items"][split] for s in manifest["scenes"])
        with h5py.File(out / entry["file"]) as f:
            assert sorted(set(np.asarray(f["source/origin"])[:, 0])) == [0, 1]
    tiles = manifest["splits"]["test"]["tiles"]
    assert {t["scene"] for t in tiles} == {0, 1}
    for scene in manifest["scenes"]:
        rows = scene["rows"]
        assert rows["train"][1] == rows["valid"][0] and rows["valid"][1] == rows["test"][0]
    # the same scenes through repeated --pan/--ms give the same items
    again = CliRunner().invoke(cli, ["data", "simulate", "--pan", str(wv2.pan), "--ms", str(wv2.ms), "--pan",
                                     str(second_pan), "--ms", str(second_ms), "--sensor", "wv2", "--out", str(tmp_path / "o2")])
    assert again.exit_code == 0, again.output
    with h5py.File(out / "train_wv2.h5") as a, h5py.File(tmp_path / "o2" / "train_wv2.h5") as b:
        np.testing.assert_array_equal(a["gt"][()], b["gt"][()])


def test_landsat_mat_scene_without_georeference(tmp_path: Path, shared: Path) -> None:
    folder = shared / "data" / "landsat7-fusebox"
    pan = scipy.io.loadmat(folder / "8_pan.mat")["cropped_gray"][:384, :384]
    ms = scipy.io.loadmat(folder / "8_ms.mat")["cropped_im"][:192, :192]
    scipy.io.savemat(tmp_path / "pan.mat", {"cropped_gray": pan})
    scipy.io.savemat(tmp_path / "ms.mat", {"cropped_im": ms})
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["data", "simulate", "--pan", str(tmp_path / "pan.mat"), "--ms",
                                      str(tmp_path / "ms.mat"), "--sensor", "none", "--name", "landsat7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load((out / MANIFEST_NAME).read_text())
    assert (manifest["ratio"], manifest["max_value"], manifest["bands"], manifest["georeferenced"]) == (2, 255.0, 6, False)
    assert manifest["mtf_gains"] == [0.3] * 6 and manifest["scenes"][0]["crs"] is None
    assert manifest["scenes"][0]["pan_key"] == "cropped_gray"
    assert all(t["crs"] is None and t["transform"] is None for t in manifest["splits"]["test_fr"]["tiles"])
    test = create_dataset("pancollection", path=str(out / "test_landsat7_multiExm1.h5"))
    assert test.layout.high_hw[0] % 32 == 0 and "crs" not in test[0] and "transform" not in test[0]
    with h5py.File(out / "test_landsat7_multiExm1.h5") as f:
        assert "georef" not in f and f.attrs["mtf_gains"].tolist() == [0.3] * 6
    full = create_dataset("pancollection", path=str(out / "test_landsat7_OrigScale_multiExm1.h5"))
    tile = full[0]  # the full-resolution lms is interpolated from the tile's own MS, as the toolbox's FR examples
    from rsmif_core.ops.interp import interp23tap

    torch.testing.assert_close(tile["lms"], interp23tap(tile["ms"][None].double(), 2)[0].float(), rtol=1e-5, atol=1e-6)
