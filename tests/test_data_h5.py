"""The h5 collections (pancollection, hyperpancollection, ms-hs) on tiny files in their exact formats."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from data.fixtures import HYPER_KEYS, MSHS_KEYS, PAN_KEYS, fusion_arrays, write_h5, write_pancollection
from torch.utils.data import DataLoader

from rsmif_core import collate, create_dataset
from rsmif_core.data.errors import DataError


def test_pancollection_reduced_resolution_items_and_batches(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "train_wv3.h5", n=3, bands=8, size=16, ratio=4)
    ds = create_dataset("pancollection", path=str(path))
    assert (ds.task, ds.sensor, ds.ratio, ds.max_value) == ("pansharpening", "wv3", 4, 2047.0)
    assert (ds.spectral_bands, ds.guide_bands, ds.has_reference, len(ds)) == (8, 1, True, 3)
    item = ds[1]
    raw = fusion_arrays(n=3, bands=8, size=16, ratio=4)
    for key in ("gt", "ms", "lms", "pan"):
        assert item[key].dtype == torch.float32
        np.testing.assert_allclose(item[key].numpy(), raw[key][1] / 2047.0, rtol=1e-6)
    batch = collate([ds[0], ds[2]])
    assert batch.ms.shape == (2, 8, 4, 4) and batch.gt is not None and batch.gt.shape == (2, 8, 16, 16)
    assert batch.meta.ids == ["train_wv3/0", "train_wv3/2"] and batch.meta.max_value == 2047.0


def test_pancollection_full_resolution_has_no_reference(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "test_gf2_OrigScale_multiExm1.h5", full=True, n=2, size=32, scale=1023.0)
    ds = create_dataset("pancollection", path=str(path))
    assert ds.sensor == "gf2" and ds.max_value == 1023.0 and not ds.has_reference
    batch = collate([ds[0], ds[1]])
    assert batch.gt is None and batch.pan.shape == (2, 1, 32, 32)
    assert float(batch.ms.max()) <= 1.0


def test_max_value_override_reproduces_the_authors_2047(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "valid_gf2.h5", n=1, scale=1023.0)
    ours = create_dataset("pancollection", path=str(path))[0]["ms"]
    authors = create_dataset("pancollection", path=str(path), max_value=2047)[0]["ms"]
    torch.testing.assert_close(authors, ours * 1023.0 / 2047.0)


def test_unknown_sensor_needs_max_value(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "train_scene.h5", n=1)
    with pytest.raises(DataError, match="cannot tell the sensor"):
        create_dataset("pancollection", path=str(path))
    ds = create_dataset("pancollection", path=str(path), sensor="pleiades", max_value=4095)
    assert ds.sensor == "pleiades" and ds.max_value == 4095


def test_creation_closes_the_file_and_workers_open_their_own(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "train_qb.h5", n=6, size=16)
    ds = create_dataset("pancollection", path=str(path))
    assert ds._file is None  # validation closed it
    # the file can be replaced while no item has been read, so nothing holds it open
    with h5py.File(path, "a") as f:
        f.attrs["touched"] = 1
    serial = [collate([ds[i]]).ms for i in range(6)]
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate)
    parallel = torch.cat([b.ms for b in loader])
    torch.testing.assert_close(parallel, torch.cat(serial))


def test_crop_and_augment_are_consistent_and_seeded(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "train_wv3.h5", n=2, bands=8, size=32, ratio=4)
    ds = create_dataset("pancollection", path=str(path), crop=16, augment=True, seed=3)
    a, b = ds[0], ds[0]
    for key in ("gt", "ms", "lms", "pan"):
        torch.testing.assert_close(a[key], b[key])
    assert a["pan"].shape == (1, 16, 16) and a["ms"].shape == (8, 4, 4)
    # gt and lms come from the same window and orientation: here lms is the nearest upsampling of ms
    lms_from_ms = a["ms"].repeat_interleave(4, 1).repeat_interleave(4, 2)
    torch.testing.assert_close(a["lms"], lms_from_ms)
    draws = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        draws.add(ds[0]["gt"].sum().item())
    assert len(draws) > 1
    centred = create_dataset("pancollection", path=str(path), crop=16)[0]
    full = create_dataset("pancollection", path=str(path))[0]
    torch.testing.assert_close(centred["gt"], full["gt"][:, 8:24, 8:24])


def test_hyperpancollection_detects_range_and_computes_lms(tmp_path: Path) -> None:
    arrays = fusion_arrays(n=2, bands=10, size=32, ratio=4, scale=1.0)
    path = write_h5(tmp_path / "Test_Pavia.h5", arrays, HYPER_KEYS, drop=("lms",))
    ds = create_dataset("hyperpancollection", path=str(path))
    assert ds.task == "hyperspectral" and ds.max_value == 1.0 and ds.value_range["how"] == "detected"
    assert ds.lms_computed and ds.scene == "pavia"
    from rsmif_core.ops.interp import interp23tap

    expected = interp23tap(torch.from_numpy(arrays["ms"][:1]), 4)[0].float()
    torch.testing.assert_close(ds[0]["lms"], expected, rtol=1e-5, atol=1e-6)
    dn = write_h5(tmp_path / "Train_WDC.h5", fusion_arrays(n=1, bands=5, size=16, scale=2047.0), HYPER_KEYS)
    assert create_dataset("hyperpancollection", path=str(dn)).max_value == 2047.0
    assert create_dataset("hyperpancollection", path=str(dn), max_value=4095).max_value == 4095.0


def test_hyperpancollection_lms_bicubic_when_ratio_is_not_a_power_of_two(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "botswana.h5", fusion_arrays(n=1, bands=3, size=18, ratio=3, scale=1.0), HYPER_KEYS,
                    drop=("lms",))
    ds = create_dataset("hyperpancollection", path=str(path))
    assert ds.ratio == 3 and ds[0]["lms"].shape == (3, 18, 18)
    from rsmif_core.ops.interp import imresize

    expected = imresize(torch.from_numpy(ds.read_raw(0)["ms"])[None], scale=3.0)[0].float()
    torch.testing.assert_close(ds[0]["lms"], expected, rtol=1e-5, atol=1e-6)


def test_ms_hs_maps_ramsf_swapped_names(tmp_path: Path) -> None:
    arrays = fusion_arrays(n=2, bands=31, size=16, ratio=4, guide=3, scale=1.0)
    path = write_h5(tmp_path / "test_cave(with_up)x4_rgb.h5", arrays, MSHS_KEYS)
    ds = create_dataset("ms-hs", path=str(path))
    assert (ds.task, ds.sensor, ds.scene, ds.spectral_bands, ds.guide_bands, ds.ratio) == ("ms-hs", "none", "cave", 31, 3, 4)
    item = ds[0]
    np.testing.assert_allclose(item["ms"].numpy(), arrays["ms"][0], rtol=1e-6)  # LRHSI: the low-resolution one
    np.testing.assert_allclose(item["lms"].numpy(), arrays["lms"][0], rtol=1e-6)  # HSI_up: the upsampled one
    assert collate([item]).pan.shape == (1, 3, 16, 16)


# ---- bad input: each a clear error at creation --------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"train_wv3.h5: no such file"):
        create_dataset("pancollection", path=str(tmp_path / "train_wv3.h5"))


def test_misspelled_key_lists_existing_keys(tmp_path: Path) -> None:
    arrays = fusion_arrays(n=1)
    path = write_h5(tmp_path / "train_wv3.h5", arrays, {"gt": "gt", "ms": "ms", "lms": "lsm", "pan": "pan"})
    with pytest.raises(DataError) as err:
        create_dataset("pancollection", path=str(path))
    message = str(err.value)
    assert "missing key 'lms'" in message and "did you mean 'lsm'" in message and "'gt', 'lsm', 'ms', 'pan'" in message
    assert "train_wv3.h5" in message


def test_channels_last_layout_is_detected(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "train_wv3.h5", fusion_arrays(n=2, bands=8, size=32), PAN_KEYS, channels_last=True)
    with pytest.raises(DataError, match=r"N×H×W×C \(channels last\)"):
        create_dataset("pancollection", path=str(path))


def test_band_counts_that_disagree(tmp_path: Path) -> None:
    arrays = fusion_arrays(n=1, bands=4)
    arrays["gt"] = np.concatenate([arrays["gt"], arrays["gt"][:, :1]], axis=1)
    path = write_h5(tmp_path / "train_qb.h5", arrays, PAN_KEYS)
    with pytest.raises(DataError, match="band counts disagree: 'gt' has 5 bands, 'ms' has 4"):
        create_dataset("pancollection", path=str(path))


def test_ratio_that_does_not_match_the_shapes(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "train_qb.h5", n=1, size=16, ratio=4)
    with pytest.raises(DataError, match="ratio 2 does not match the shapes"):
        create_dataset("pancollection", path=str(path), ratio=2)
    arrays = fusion_arrays(n=1, size=16, ratio=4)
    arrays["ms"] = arrays["ms"][:, :, :3, :3]
    bad = write_h5(tmp_path / "valid_qb.h5", arrays, PAN_KEYS)
    with pytest.raises(DataError, match="not an integer multiple"):
        create_dataset("pancollection", path=str(bad))


@pytest.mark.parametrize(("value", "message"), [(np.nan, "NaN or infinite"), (-3.0, "negative values")])
def test_nan_or_negative_dn(tmp_path: Path, value: float, message: str) -> None:
    arrays = fusion_arrays(n=3)
    arrays["ms"][2, 1, 0, 0] = value  # the last item: checked too
    path = write_h5(tmp_path / "train_wv3.h5", arrays, PAN_KEYS)
    with pytest.raises(DataError, match=f"key 'ms' item 2 holds {message}"):
        create_dataset("pancollection", path=str(path))


def test_negative_lms_is_interpolation_overshoot_not_an_error(tmp_path: Path) -> None:
    arrays = fusion_arrays(n=1)
    arrays["lms"][0, 0, 0, 0] = -200.0
    path = write_h5(tmp_path / "train_wv3.h5", arrays, PAN_KEYS)
    assert float(create_dataset("pancollection", path=str(path))[0]["lms"].min()) < 0


def test_truncated_h5(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "train_wv3.h5", n=8, size=32)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"train_wv3.h5: (not a readable HDF5 file|cannot read item)"):
        create_dataset("pancollection", path=str(path))


def test_bad_crop(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "train_wv3.h5", n=1, size=16)
    with pytest.raises(DataError, match="crop 6 must be a multiple of the ratio 4"):
        create_dataset("pancollection", path=str(path), crop=6)


def test_wrong_collection_keys_suggest_the_right_case(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "Train_Pavia.h5", fusion_arrays(n=1, scale=1.0), {"gt": "GT", "ms": "MSI", "lms": "LMS",
                                                                                  "pan": "PAN"})
    with pytest.raises(DataError, match="missing key 'MS'.*did you mean 'MSI'"):
        create_dataset("hyperpancollection", path=str(path))


def test_set_epoch_reaches_persistent_workers(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "train_wv3.h5", n=4, bands=8, size=32, ratio=4)
    ds = create_dataset("pancollection", path=str(path), crop=16, augment=True, seed=7)
    loader = DataLoader(ds, batch_size=2, num_workers=2, persistent_workers=True, collate_fn=collate)
    seen = []
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        from_workers = torch.cat([b.gt for b in loader])
        in_main = torch.stack([ds[i]["gt"] for i in range(4)])
        torch.testing.assert_close(from_workers, in_main)
        seen.append(from_workers)
    assert not torch.equal(seen[0], seen[1])
