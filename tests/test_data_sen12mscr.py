"""SEN12MS-CR folder reader on a tiny generated tree and on real Sentinel-1/2 patches (BigEarthNet-MM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from data.fixtures import random_triplet, write_sen12mscr_tree, write_sen12mscr_triplet

from rsmif_core import collate, create_dataset
from rsmif_core.data.errors import DataError

SCENES = {
    "train": [("ROIs1158_spring", 1), ("ROIs2017_winter", 68)],
    "val": [("ROIs1868_summer", 19)],
    "test": [("ROIs1970_fall", 139)],
}


def test_official_splits_and_triplet_mapping(tmp_path: Path) -> None:
    root = write_sen12mscr_tree(tmp_path, SCENES, patches=2)
    # a scene in no official list, and a scene number that contains a listed one as a substring (s1_10 vs s1_1)
    write_sen12mscr_tree(tmp_path, {"other": [("ROIs1158_spring", 10)]}, patches=1)
    sizes = {split: len(create_dataset("sen12mscr", root=str(root), split=split)) for split in ("train", "val", "test")}
    assert sizes == {"train": 4, "val": 2, "test": 2}
    assert len(create_dataset("sen12mscr", root=str(root), split="all")) == 9
    ds = create_dataset("sen12mscr", root=str(root), split="test")
    assert (ds.task, ds.ratio, ds.spectral_bands, ds.guide_bands, ds.has_reference) == ("sar-optical", 1, 13, 2, True)
    item = ds[0]
    assert item["id"] == "ROIs1970_fall_s1/s1_139/ROIs1970_fall_s1_139_p1"
    s1_path = root / "ROIs1970_fall_s1" / "s1_139" / "ROIs1970_fall_s1_139_p1.tif"
    cloudy_path = root / "ROIs1970_fall_s2_cloudy" / "s2_cloudy_139" / "ROIs1970_fall_s2_cloudy_139_p1.tif"
    with rasterio.open(s1_path) as src:
        s1 = src.read()
    with rasterio.open(cloudy_path) as src:
        cloudy = src.read().astype(np.float64)
    np.testing.assert_allclose(item["pan"].numpy(), (np.clip(s1, -25, 0) + 25) / 25, rtol=1e-6)
    np.testing.assert_allclose(item["ms"].numpy(), np.clip(cloudy, 0, 10000) / 10000, rtol=1e-6)
    assert item["lms"] is item["ms"]
    batch = collate([ds[0], ds[1]])
    assert batch.pan.shape == (2, 2, 16, 16) and batch.gt is not None and batch.gt.shape == (2, 13, 16, 16)
    assert float(batch.gt.max()) <= 1.0 and float(batch.pan.min()) >= 0.0


def test_resnet_scaling(tmp_path: Path) -> None:
    root = write_sen12mscr_tree(tmp_path, {"test": SCENES["test"]}, patches=1)
    item = create_dataset("sen12mscr", root=str(root), split="test", scaling="resnet")[0]
    with rasterio.open(root / "ROIs1970_fall_s1" / "s1_139" / "ROIs1970_fall_s1_139_p1.tif") as src:
        s1 = src.read().astype(np.float64)
    vv = 2 * (np.clip(s1[0], -25, 0) + 25) / 25
    vh = 2 * (np.clip(s1[1], -32.5, 0) + 32.5) / 32.5
    np.testing.assert_allclose(item["pan"].numpy(), np.stack([vv, vh]), rtol=1e-5)
    assert float(item["gt"].max()) <= 5.0 and item["max_value"] == 2000.0


def test_crop_and_augment(tmp_path: Path) -> None:
    root = write_sen12mscr_tree(tmp_path, {"test": SCENES["test"]}, patches=1)
    ds = create_dataset("sen12mscr", root=str(root), split="test", crop=8, augment=True, seed=1)
    a, b = ds[0], ds[0]
    assert a["pan"].shape == (2, 8, 8) and a["gt"].shape == (13, 8, 8)
    torch.testing.assert_close(a["gt"], b["gt"])


def test_missing_root_and_wrong_layout(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        create_dataset("sen12mscr", root=str(tmp_path / "nowhere"))
    (tmp_path / "s1").mkdir()
    with pytest.raises(DataError, match=r"no ROIs\*_<season>_s1 folders \(found: s1\)"):
        create_dataset("sen12mscr", root=str(tmp_path))


def test_unpaired_patches_are_listed(tmp_path: Path) -> None:
    write_sen12mscr_tree(tmp_path, {"test": SCENES["test"]}, patches=1)
    write_sen12mscr_triplet(tmp_path, "ROIs1970_fall", 139, 2, *random_triplet(), modalities=("s1", "s2"))
    with pytest.raises(DataError, match=r"1 S1 patches have no cloud-free or cloudy S2 partner .*s2_cloudy_139_p2.tif"):
        create_dataset("sen12mscr", root=str(tmp_path), split="test")
    assert len(create_dataset("sen12mscr", root=str(tmp_path), split="test", skip_unpaired=True)) == 1


def test_triplet_on_different_grids(tmp_path: Path) -> None:
    write_sen12mscr_triplet(tmp_path, "ROIs1970_fall", 139, 1, *random_triplet(),
                            origins={"s2_cloudy": (500100.0, 5000000.0)})
    with pytest.raises(DataError, match="on different grids"):
        create_dataset("sen12mscr", root=str(tmp_path), split="test")


def test_wrong_band_count(tmp_path: Path) -> None:
    s1, s2, cloudy = random_triplet()
    write_sen12mscr_triplet(tmp_path, "ROIs1970_fall", 139, 1, s1[:1], s2, cloudy)
    with pytest.raises(DataError, match="expected 2 bands, found 1"):
        create_dataset("sen12mscr", root=str(tmp_path), split="test")


# ---- real Sentinel-1 / Sentinel-2 patches --------------------------------------------------------------

S2_L1C_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")


def _bigearthnet_triplet(shared: Path, patch: str) -> tuple[np.ndarray, np.ndarray]:
    """S1 (VV, VH) dB and a 13-band S2 stack on the 10 m grid (20/60 m bands repeated; L2A has no B10: zeros)."""
    s1_dir = next((shared / "data" / "bigearthnet-mm" / "s1").glob(f"*_{patch}"))
    s2_dir = next((shared / "data" / "bigearthnet-mm" / "s2").glob(f"*_{patch}"))
    s1 = []
    for pol in ("VV", "VH"):
        with rasterio.open(next(s1_dir.glob(f"*_{pol}.tif"))) as src:
            s1.append(src.read(1))
    bands = []
    for name in S2_L1C_BANDS:
        files = list(s2_dir.glob(f"*_{name}.tif"))
        if not files:
            bands.append(np.zeros((120, 120), np.uint16))
            continue
        with rasterio.open(files[0]) as src:
            band = src.read(1)
        factor = 120 // band.shape[0]
        bands.append(band.repeat(factor, 0).repeat(factor, 1))
    return np.stack(s1).astype(np.float32), np.stack(bands).astype(np.uint16)


def test_real_sentinel_patches_through_the_reader(tmp_path: Path, shared: Path) -> None:
    """BigEarthNet-MM S1/S2 (cloud-free) in the SEN12MS-CR layout, with synthetic clouds as the cloudy input."""
    for k, patch in enumerate(("36_85", "4_55"), start=1):
        s1, s2 = _bigearthnet_triplet(shared, patch)
        yy, xx = np.mgrid[:120, :120]
        cloud = np.exp(-((yy - 60.0) ** 2 + (xx - 40.0 * k) ** 2) / (2 * 25.0**2))
        cloudy = np.clip(s2 * (1 - cloud) + 7000 * cloud, 0, 65535).astype(np.uint16)
        write_sen12mscr_triplet(tmp_path, "ROIs1158_spring", 106, k, s1, s2, cloudy)
    ds = create_dataset("sen12mscr", root=str(tmp_path), split="test")
    assert len(ds) == 2
    batch = collate([ds[0], ds[1]])
    assert batch.pan.shape == (2, 2, 120, 120) and batch.ms.shape == (2, 13, 120, 120)
    assert batch.gt is not None
    # real backscatter lies inside the clip range and VV is brighter than VH on land
    assert 0.0 < float(batch.pan[:, 0].mean()) < 1.0 and float(batch.pan[:, 0].mean()) > float(batch.pan[:, 1].mean())
    # the cloudy input is brighter than the clear target where the cloud is
    assert float((batch.ms - batch.gt)[:, :, 50:70, 30:50].mean()) > 0.2
    s1, s2 = _bigearthnet_triplet(shared, "36_85")
    np.testing.assert_allclose(batch.gt[0].numpy(), np.clip(s2, 0, 10000) / 10000.0, rtol=1e-6)
