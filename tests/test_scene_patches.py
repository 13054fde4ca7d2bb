"""Full-resolution training items (``scene_patches``): from a real WorldView-2 pair and from a ``data
simulate`` folder; whole scene or representative tiles; no-data; errors that name what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from _helpers import wv2_geotiff_pair

from rsmif_core.data.errors import DataError
from rsmif_core.data.scene_patches import ScenePatches, representative_tiles
from rsmif_core.types import collate


@pytest.fixture
def crop(shared: Path, tmp_path: Path) -> tuple[Path, Path]:
    """128×128 PAN / 32×32 MS of real WorldView-2 data, every pixel with data."""
    return wv2_geotiff_pair(shared, tmp_path / "crop", nodata_columns=None, window=(80, 40, 32, 32))


def test_a_small_scene_is_one_item_at_full_resolution(crop: tuple[Path, Path]) -> None:
    pan, ms = crop
    ds = ScenePatches(str(pan), str(ms), sensor="WV2", patch_size=64, patches=16)
    assert len(ds) == 1 and ds.has_reference is False
    item = ds[0]
    assert item["pan"].shape == (1, 128, 128) and item["ms"].shape == (4, 32, 32) and item["lms"].shape == (4, 128, 128)
    assert item["gt"] is None and item["ratio"] == 4 and item["max_value"] == 2047.0
    with rasterio.open(pan) as src:
        expected = src.read().astype(np.float64) / 2047.0
    assert np.allclose(item["pan"].numpy(), expected, atol=1e-7)
    with rasterio.open(ms) as src:
        assert np.allclose(item["ms"].numpy(), src.read() / 2047.0, atol=1e-7)
    batch = collate([item])
    assert batch.gt is None and batch.meta.mtf_gains is not None and len(batch.meta.mtf_gains) == 4


def test_a_larger_scene_gives_representative_tiles(crop: tuple[Path, Path]) -> None:
    pan, ms = crop
    every = ScenePatches(str(pan), str(ms), sensor="WV2", patch_size=32, patches=None)
    assert len(every) == 16
    chosen = ScenePatches(str(pan), str(ms), sensor="WV2", patch_size=32, patches=5, seed=1)
    again = ScenePatches(str(pan), str(ms), sensor="WV2", patch_size=32, patches=5, seed=1)
    ids = [chosen[i]["id"] for i in range(len(chosen))]
    assert len(ids) == 5 == len(set(ids)) and ids == [again[i]["id"] for i in range(len(again))]
    assert set(ids) <= {every[i]["id"] for i in range(len(every))}
    for i in range(len(chosen)):
        assert chosen[i]["pan"].shape == (1, 32, 32) and chosen[i]["ms"].shape == (4, 8, 8)


def test_representative_tiles_take_one_tile_per_group() -> None:
    rng = np.random.default_rng(0)
    groups = [rng.normal(centre, 0.01, size=(6, 3)) for centre in (0.0, 5.0, 10.0)]
    chosen = representative_tiles(np.concatenate(groups), 3, seed=0)
    assert sorted(index // 6 for index in chosen) == [0, 1, 2]


def test_tiles_touching_nodata_are_dropped(shared: Path, tmp_path: Path) -> None:
    pan, ms = wv2_geotiff_pair(shared, tmp_path, nodata_columns=(8, 12), window=(80, 0, 16, 32))
    ds = ScenePatches(str(pan), str(ms), sensor="WV2", patch_size=32, patches=None)
    with rasterio.open(pan) as src:
        data = src.read(1)
    for i in range(len(ds)):
        row, col = (int(v) for v in ds[i]["id"].split("/")[1].split("_"))
        assert (data[row:row + 32, col:col + 32] > 0).all()
    assert len(ds) == 2 * 3  # 2 rows of 8×8 MS tiles on the grid 0, 8, 16, 24: the tile at 8 holds no-data


def test_alignment_crops_a_whole_scene_to_what_the_model_and_metrics_need(crop: tuple[Path, Path]) -> None:
    pan, ms = crop
    ds = ScenePatches(str(pan), str(ms), sensor="WV2", patch_size=96, patches=2, alignment=96)
    assert ds[0]["pan"].shape[-2:] == (96, 96)


def test_patches_of_a_simulated_folder_come_from_its_split(shared: Path, tmp_path: Path) -> None:
    from rsmif_core.data.manifest import read_manifest
    from rsmif_core.data.rasters import read_raster
    from rsmif_core.data.simulation import SimulationOptions, simulate

    pan, ms = wv2_geotiff_pair(shared, tmp_path / "scene", nodata_columns=None)
    out = tmp_path / "sim"
    simulate([(read_raster(pan), read_raster(ms))], out, SimulationOptions(sensor="WV2"))
    rows = read_manifest(out)["scenes"][0]["rows"]
    ds = ScenePatches(folder=str(out), split="train", patch_size=64, patches=None)
    assert ds.sensor == "WV2" and ds.ratio == 4 and len(ds) > 0
    for i in range(len(ds)):
        row = int(ds[i]["id"].split("/")[1].split("_")[0]) // 4
        assert rows["train"][0] <= row and row + 16 <= rows["train"][1]
    test = ScenePatches(folder=str(out), split="test", patch_size=64, patches=None)
    assert all(int(test[i]["id"].split("/")[1].split("_")[0]) // 4 >= rows["test"][0] for i in range(len(test)))


@pytest.mark.parametrize(("arguments", "expected"), [
    ({"patch_size": 30}, "patch_size 30 must be a multiple of 4"),
    ({"patch_size": 64, "alignment": 24}, "multiple of 24 (the ratio 4 and the model's alignment 24)"),
    ({"sensor": None}, "sensor: name the sensor"),
    ({"patches": 0}, "patches must be at least 1"),
    ({"task": "sar-optical"}, "expected pansharpening or hyperspectral"),
])
def test_bad_arguments_are_named(crop: tuple[Path, Path], arguments: dict, expected: str) -> None:
    pan, ms = crop
    options = {"sensor": "WV2", **arguments}
    with pytest.raises(DataError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        ScenePatches(str(pan), str(ms), **options)


def test_a_missing_file_and_a_mixed_source_are_named(crop: tuple[Path, Path], tmp_path: Path) -> None:
    pan, _ = crop
    with pytest.raises(DataError, match="ms.tif.*no such file|no such file"):
        ScenePatches(str(pan), str(tmp_path / "ms.tif"), sensor="WV2")
    with pytest.raises(DataError, match="not both"):
        ScenePatches(str(pan), None, folder=str(tmp_path), sensor="WV2")


def test_items_train_a_full_resolution_loss(crop: tuple[Path, Path]) -> None:
    from rsmif_core.plugins.factory import create_loss, create_model

    pan, ms = crop
    ds = ScenePatches(str(pan), str(ms), sensor="WV2", patch_size=64, patches=4)
    batch = collate([ds[i] for i in range(len(ds))])
    model = create_model("pnn", spectral_bands=4, guide_bands=1, ratio=4)
    loss = create_loss("lambda_pnn")(model(batch), batch)
    loss.total.backward()
    assert torch.isfinite(loss.total) and all(p.grad is not None for p in model.parameters())
