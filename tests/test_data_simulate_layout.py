"""The pieces of ``rsmif data simulate`` on tiny arrays: sizes and strips, no-data masks and filling, the
scene list, the manifest reader behind ``data=FOLDER``, and the readers' recorded gains and georeferencing."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from data.fixtures import write_pancollection

from rsmif_core import create_dataset
from rsmif_core.data import layout
from rsmif_core.data.errors import DataError
from rsmif_core.data.manifest import FORMAT, MANIFEST_NAME, dataset_sections, read_manifest
from rsmif_core.data.nodata import fill_nearest, scene_validity
from rsmif_core.data.rasters import Raster, pixels_with_data, read_raster, read_scene_list
from rsmif_core.data.simulation import SimulationOptions, simulate


def test_defaults_on_a_large_scene_are_panCollections_without_a_note() -> None:
    sizes, notes = layout.choose_sizes([("big", layout.Extent(0, 2000, 0, 2000))], 4, layout.Request())
    assert sizes == layout.Sizes(patch=64, stride=48, test_size=256, fr_size=512) and notes == []


def test_a_small_scene_gets_smaller_sizes_and_a_note() -> None:
    sizes, notes = layout.choose_sizes([("small", layout.Extent(8, 104, 0, 120))], 4, layout.Request())
    assert sizes.test_size % 32 == 0 and sizes.fr_size % 32 == 0 and sizes.test_size < 256
    assert sizes.patch % 16 == 0 and sizes.patch < 64
    assert len(notes) == 1 and "the defaults do not fit" in notes[0] and "small 96×120" in notes[0]


def test_sizes_fit_the_smallest_of_several_scenes() -> None:
    extents = [("a", layout.Extent(0, 2000, 0, 2000)), ("b", layout.Extent(0, 160, 0, 160))]
    sizes, _ = layout.choose_sizes(extents, 4, layout.Request())
    alone, _ = layout.choose_sizes(extents[1:], 4, layout.Request())
    assert sizes == alone


@pytest.mark.parametrize("ratio", [2, 3, 4])
def test_strips_are_disjoint_adjoining_and_hold_whole_tiles(ratio: int) -> None:
    extent = layout.Extent(12, 12 + 96 * ratio, 0, 300)
    request = layout.Request(split=0.8, test_fraction=0.25)
    sizes, _ = layout.choose_sizes([("s", extent)], ratio, request)
    strips = layout.scene_strips(extent, ratio, sizes, request)
    assert strips.valid is not None
    assert strips.train[0] == extent.top and strips.test[1] == extent.bottom
    assert strips.train[1] == strips.valid[0] and strips.valid[1] == strips.test[0]
    assert (strips.test[1] - strips.test[0]) % sizes.test_size == 0
    assert sizes.test_size % 32 == 0 and sizes.test_size % ratio == 0 and sizes.fr_size % (32 * ratio // np.gcd(32, ratio)) == 0
    for rows, size in ((strips.train, sizes.patch), (strips.valid, sizes.patch), (strips.test, sizes.test_size)):
        assert rows[1] - rows[0] >= size and rows[0] % ratio == 0


def test_split_1_has_no_validation_strip() -> None:
    request = layout.Request(split=1.0)
    sizes, _ = layout.choose_sizes([("s", layout.Extent(0, 400, 0, 400))], 4, request)
    strips = layout.scene_strips(layout.Extent(0, 400, 0, 400), 4, sizes, request)
    assert strips.valid is None and strips.train[1] == strips.test[0]


def test_valid_extent_is_aligned_to_the_ratio() -> None:
    valid = np.zeros((40, 40), dtype=bool)
    valid[5:31, 2:39] = True
    assert layout.valid_extent(valid, 4) == layout.Extent(8, 28, 4, 36)
    assert layout.valid_extent(np.zeros((8, 8), dtype=bool), 4) is None


def test_windows_with_data_drop_those_touching_nodata() -> None:
    valid = np.ones((16, 16), dtype=bool)
    valid[5, 9] = False
    corners = layout.windows((0, 16), (0, 16), 8, 8)
    assert corners == [(0, 0), (0, 8), (8, 0), (8, 8)]
    assert layout.with_data(corners, valid, 8) == [(0, 0), (8, 0), (8, 8)]


def test_nodata_masks_and_nearest_fill() -> None:
    ms = np.arange(2 * 4 * 4, dtype=np.float64).reshape(2, 4, 4) + 1
    ms[:, 0, 0] = 0  # all bands zero
    ms[1, 3, 3] = np.nan
    valid = pixels_with_data(ms)
    assert valid.sum() == 14 and not valid[0, 0] and not valid[3, 3]
    pan_valid = np.ones((8, 8), dtype=bool)
    pan_valid[7, 0] = False
    both = scene_validity(pan_valid, valid, 2)
    assert not both[3, 0] and both.sum() == 13
    filled = ms.copy()
    assert fill_nearest(filled, both) == 3
    assert np.isfinite(filled).all()
    np.testing.assert_array_equal(filled[:, both], ms[:, both])
    # each filled pixel took the values of a nearest pixel with data (distance 1 here)
    for r, c in zip(*np.nonzero(~both)):
        neighbours = [filled[:, rr, cc] for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
                      if 0 <= rr < 4 and 0 <= cc < 4 and both[rr, cc]]
        assert any(np.array_equal(filled[:, r, c], n) for n in neighbours)


def test_scene_list(tmp_path: Path) -> None:
    listing = tmp_path / "list" / "scenes.txt"
    listing.parent.mkdir()
    listing.write_text("# pan ms\n\na.tif b.tif\n'/x/my pan.tif' \"/x/my ms.tif\"  # quoted\n")
    assert read_scene_list(listing) == [(listing.parent / "a.tif", listing.parent / "b.tif"),
                                        (Path("/x/my pan.tif"), Path("/x/my ms.tif"))]
    listing.write_text("a.tif b.tif\nc.tif\n")
    with pytest.raises(DataError, match=r"scenes.txt: line 2: expected 'PAN MS' \(two paths\), found 1 fields"):
        read_scene_list(listing)
    listing.write_text("# nothing\n")
    with pytest.raises(DataError, match="names no scene"):
        read_scene_list(listing)


def _tiny_scene(tmp_path: Path) -> tuple[Raster, Raster]:
    rng = np.random.default_rng(0)
    ms = rng.uniform(100, 2000, (4, 160, 160)).round()
    pan = rng.uniform(100, 2000, (1, 640, 640)).round()
    return Raster(tmp_path / "pan.npy", pan, "uint16"), Raster(tmp_path / "ms.npy", ms, "uint16")


def test_simulate_from_python_and_the_sections_of_its_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = simulate([_tiny_scene(tmp_path)], out, SimulationOptions(sensor="qb", request=layout.Request(split=1.0)))
    assert set(report.files) == {"train", "test", "test_fr"} and report.mtf_gains == (0.34, 0.32, 0.30, 0.22)
    sections = dataset_sections(out)
    assert set(sections) == {"train", "test", "test_fr"}  # no validation file, no section
    assert sections["test"]["args"]["path"] == str((out / "test_qb_multiExm1.h5").resolve())
    assert read_manifest(out)["georeferenced"] is False


def test_dataset_sections_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope: no such folder"):
        dataset_sections(tmp_path / "nope")
    file = tmp_path / "file.h5"
    file.write_bytes(b"x")
    with pytest.raises(DataError, match="file.h5: expected a folder written by `rsmif data simulate`"):
        dataset_sections(file)
    with pytest.raises(DataError, match=f"{tmp_path}: no {MANIFEST_NAME} in this folder"):
        dataset_sections(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text("format: [unclosed\n")
    with pytest.raises(DataError, match="not a readable manifest"):
        dataset_sections(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text(yaml.safe_dump({"format": "other"}))
    with pytest.raises(DataError, match=f"expected a manifest of format '{FORMAT}', found 'other'"):
        dataset_sections(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text(yaml.safe_dump({"format": FORMAT, "splits": {"test": {"file": "t.h5"}}}))
    with pytest.raises(DataError, match=f"{tmp_path}: {MANIFEST_NAME} lists t.h5 \\(split test\\), which is missing"):
        dataset_sections(tmp_path)


def test_reader_without_records_has_no_gains_or_georeference(tmp_path: Path) -> None:
    ds = create_dataset("pancollection", path=str(write_pancollection(tmp_path / "test_qb.h5")))
    item = ds[0]
    assert ds.mtf_gains is None and "mtf_gains" not in item and "crs" not in item and "transform" not in item


def test_reader_refuses_bad_records(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "test_qb.h5", n=2)
    with h5py.File(path, "a") as f:
        f.attrs["mtf_gains"] = [0.3, 0.3]
    with pytest.raises(DataError, match=r"attribute 'mtf_gains' holds \[0.3, 0.3\]; expected 4 gains"):
        create_dataset("pancollection", path=str(path))
    with h5py.File(path, "a") as f:
        f.attrs["mtf_gains"] = [0.3, 0.3, 0.3, 0.2]
        group = f.create_group("georef")
        group["crs"] = np.array(["EPSG:32631"], dtype=object)
        group["transform"] = np.zeros((1, 6))
    with pytest.raises(DataError, match=r"group 'georef' holds 1 CRS and transforms 1×6 for 2 items"):
        create_dataset("pancollection", path=str(path))
    with h5py.File(path, "a") as f:
        del f["georef"]
        f["georef/crs"] = np.array(["EPSG:32631", ""], dtype=object)
        f["georef/transform"] = np.array([[2.0, 0, 10, 0, -2.0, 20], [np.nan] * 6])
    ds = create_dataset("pancollection", path=str(path))
    assert ds.mtf_gains == (0.3, 0.3, 0.3, 0.2)
    assert (ds[0]["crs"], ds[0]["transform"]) == ("EPSG:32631", (2.0, 0.0, 10.0, 0.0, -2.0, 20.0))
    assert (ds[1]["crs"], ds[1]["transform"]) == (None, None)


def test_nan_negative_and_out_of_scale_values(tmp_path: Path) -> None:
    pan, ms = _tiny_scene(tmp_path)
    ms.array[2, 150, 10] = np.nan  # one band NaN: the pixel holds no data
    ms.array[:, 100, 100] = -5.0  # noise below zero in a pixel with data
    ms.array[0, 10, 10] = 4000.0
    report = simulate([(Raster(pan.path, pan.array, "uint16"), Raster(ms.path, ms.array, "uint16"))], tmp_path / "out",
                      SimulationOptions(sensor="qb", request=layout.Request(split=1.0)))
    notes = "\n".join(report.notes)
    assert "1 of 25600 MS pixels (0.0%) hold no data" in notes
    assert "4 negative input values were clipped to 0" in notes
    assert "values reach 4000, above the scale 2047" in notes
    assert report.dropped["test"] + report.dropped["test_fr"] > 0
    for split, path in report.files.items():
        with h5py.File(path) as f:
            for key in ("ms", "pan") + (("gt",) if split != "test_fr" else ()):
                values = f[key][()]
                assert np.isfinite(values).all() and values.min() >= 0


def test_a_scale_is_needed(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no known radiometric scale for sensor 'none' and uint16 input: pass --max-value"):
        simulate([_tiny_scene(tmp_path)], tmp_path / "out", SimulationOptions(sensor="none"))
    assert not (tmp_path / "out").exists()


def test_a_tiff_without_georeference_reads_without_a_warning(tmp_path: Path) -> None:
    import warnings

    import rasterio

    path = tmp_path / "plain.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        values = np.arange(1, 97, dtype=np.uint16).reshape(2, 6, 8)
        values[:, 2, 3] = 0  # a fill pixel: every band 0
        with rasterio.open(path, "w", driver="GTiff", width=8, height=6, count=2, dtype="uint16") as dst:
            dst.write(values)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raster = read_raster(path)
    assert raster.transform is None and raster.crs is None and raster.array.shape == (2, 6, 8)
    assert raster.valid is not None and raster.nodata_pixels == 1 and not raster.valid[2, 3]
