"""The built-in sample scenes (no files), their on-disk form, and ``rsmif data info``."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from data.fixtures import PAN_KEYS, fusion_arrays, write_h5

from rsmif_core import collate, create_dataset, create_loss, create_model
from rsmif_core.cli import cli
from rsmif_core.data.errors import DataError
from rsmif_core.data.sample import load_landsat
from rsmif_core.testing import train_briefly

EXPECTED = {  # task -> (spectral bands, guide bands, ratio)
    "pansharpening": (6, 1, 2),
    "hyperspectral": (102, 1, 4),
    "ms-hs": (31, 3, 4),
    "sar-optical": (13, 2, 1),
}


@pytest.mark.parametrize("task", list(EXPECTED))
def test_sample_every_task_and_split_makes_valid_batches(task: str) -> None:
    bands, guide, ratio = EXPECTED[task]
    for split in ("train", "val", "test", "test_fr"):
        ds = create_dataset("sample", task=task, split=split)
        assert (ds.task, ds.spectral_bands, ds.guide_bands, ds.ratio) == (task, bands, guide, ratio)
        assert ds.has_reference == (split != "test_fr") and len(ds) >= 3
        batch = collate([ds[i] for i in range(min(len(ds), 3))])
        assert batch.meta.task == task and batch.pan.dtype == torch.float32
        assert float(batch.lms.min()) > -0.5 and float(batch.pan.max()) <= 1.0
        if batch.gt is not None:
            assert 0.0 <= float(batch.gt.min()) and float(batch.gt.max()) <= 1.0


def test_pansharpening_sample_is_the_shipped_landsat_scene() -> None:
    pan, ms = load_landsat()
    assert pan.shape == (1, 384, 384) and ms.shape == (6, 192, 192) and pan.dtype == np.uint8
    ds = create_dataset("sample", task="pansharpening", split="train")
    assert ds.scene == "landsat7" and ds.max_value == 255.0
    first = ds[0]
    # reduced-resolution reference = the original MS (top-left training patch), on the 1/255 scale
    np.testing.assert_allclose(first["gt"].numpy(), ms[:, :32, :32] / 255.0, rtol=1e-6)
    full = create_dataset("sample", task="pansharpening", split="test_fr")[0]
    np.testing.assert_allclose(full["pan"].numpy(), pan[:, 256:384, :128] / 255.0, rtol=1e-6)


def test_synthetic_scene_guide_follows_the_spectral_response() -> None:
    ds = create_dataset("sample", task="pansharpening", split="test", scene="synthetic")
    item = ds[0]
    assert ds.spectral_bands == 4 and ds.ratio == 4
    from rsmif_core.data.synthetic import band_wavelengths, pan_response

    predicted = torch.einsum("b,bhw->hw", torch.from_numpy(pan_response(band_wavelengths(4))).float(), item["gt"])
    assert torch.corrcoef(torch.stack([predicted.flatten(), item["pan"].flatten()]))[0, 1] > 0.98


def test_sample_augmentation_is_seeded() -> None:
    ds = create_dataset("sample", task="ms-hs", split="train", augment=True, seed=5)
    torch.testing.assert_close(ds[3]["gt"], ds[3]["gt"])
    plain = create_dataset("sample", task="ms-hs", split="train")[3]["gt"]
    turned = {tuple(ds[3]["gt"][0, 0, :2].tolist())}
    for epoch in range(1, 6):
        ds.set_epoch(epoch)
        turned.add(tuple(ds[3]["gt"][0, 0, :2].tolist()))
    assert len(turned) > 1 and plain.shape == ds[3]["gt"].shape


def test_unknown_sample_arguments() -> None:
    with pytest.raises(DataError, match="unknown split 'training'"):
        create_dataset("sample", task="pansharpening", split="training")
    with pytest.raises(DataError, match="unknown task 'fusion'"):
        create_dataset("sample", task="fusion")
    with pytest.raises(DataError, match="no sample scene 'landsat7' for task 'hyperspectral'"):
        create_dataset("sample", task="hyperspectral", scene="landsat7")


@pytest.mark.parametrize(("task", "name", "first_file"), [
    ("pansharpening", "pancollection", "train_landsat7.h5"),
    ("ms-hs", "ms-hs", "train_synthetic.h5"),
])
def test_written_sample_reads_back_through_its_collection(tmp_path: Path, task: str, name: str, first_file: str) -> None:
    result = CliRunner().invoke(cli, ["data", "sample", "--task", task, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    if task == "pansharpening":
        assert "public domain" in (tmp_path / "LICENSE-landsat7.md").read_text(encoding="utf-8")
    on_disk = create_dataset(name, path=str(tmp_path / first_file))
    in_memory = create_dataset("sample", task=task, split="train")
    assert len(on_disk) == len(in_memory) and on_disk.max_value == in_memory.max_value
    for key in ("gt", "ms", "lms", "pan"):
        torch.testing.assert_close(on_disk[4][key], in_memory[4][key])


def test_written_sar_optical_sample_is_a_sen12mscr_tree(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["data", "sample", "--task", "sar-optical", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for split in ("train", "val", "test"):
        on_disk = create_dataset("sen12mscr", root=str(tmp_path), split=split)
        in_memory = create_dataset("sample", task="sar-optical", split=split)
        assert len(on_disk) == len(in_memory)
        torch.testing.assert_close(on_disk[1]["gt"], in_memory[1]["gt"], atol=1e-4, rtol=0)
        torch.testing.assert_close(on_disk[1]["pan"], in_memory[1]["pan"], atol=1e-5, rtol=0)


def test_quickstart_path_trains_on_the_sample() -> None:
    torch.manual_seed(0)  # the model's initial weights must not depend on which tests ran before in this worker
    ds = create_dataset("sample", task="pansharpening", split="train")
    model = create_model("pnn", spectral_bands=ds.spectral_bands, guide_bands=ds.guide_bands, ratio=ds.ratio)
    batch = collate([ds[i] for i in range(4)])
    first, last = train_briefly(model, create_loss("l1"), batch, steps=6, lr=1e-3)
    assert last < first


def test_info_reports_contents_and_problems(tmp_path: Path) -> None:
    runner = CliRunner()
    arrays = fusion_arrays(n=2, bands=8, size=32)
    good = write_h5(tmp_path / "test_wv3_multiExm1.h5", arrays, PAN_KEYS)
    ok = runner.invoke(cli, ["data", "info", str(good)])
    assert ok.exit_code == 0
    assert "pancollection" in ok.output and "sensor: wv3" in ok.output and "gt: 2×8×32×32 float64" in ok.output
    assert "no problems found" in ok.output
    bad = write_h5(tmp_path / "train_qb.h5", arrays, PAN_KEYS, channels_last=True)
    shown = runner.invoke(cli, ["data", "info", str(bad)])
    assert shown.exit_code == 1 and "PROBLEM" in shown.output and "channels last" in shown.output
    truncated = tmp_path / "valid_wv3.h5"
    truncated.write_bytes(good.read_bytes()[:2000])
    broken = runner.invoke(cli, ["data", "info", str(truncated)])
    assert broken.exit_code == 1 and "truncated" in broken.output
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros((2, 2))
    unknown = runner.invoke(cli, ["data", "info", str(tmp_path / "other.h5"), "--json"])
    assert unknown.exit_code == 1 and "match no known collection" in unknown.output
    missing = runner.invoke(cli, ["data", "info", str(tmp_path / "nothing.h5")])
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_info_on_real_files_and_a_sen12mscr_tree(tmp_path: Path, shared: Path) -> None:
    runner = CliRunner()
    mat = runner.invoke(cli, ["data", "info", str(shared / "data" / "landsat7-fusebox" / "8_ms.mat")])
    assert mat.exit_code == 0 and "cropped_im: 400×400×6 uint8" in mat.output
    tif = runner.invoke(cli, ["data", "info", str(shared / "data" / "wv2-spacenet6" / "pan3.tif")])
    assert tif.exit_code == 0 and "EPSG:32631" in tif.output
    hsi = runner.invoke(cli, ["data", "info", str(shared / "data" / "aviris-santa-barbara" / "a_hsi_img_for_VI_demo.mat")])
    assert hsi.exit_code == 0 and "hsi_img: 90×90×224 int16  range -12 … 8143" in hsi.output
    # one folder per patch (BigEarthNet): the GeoTIFFs below are found and described
    patches = runner.invoke(cli, ["data", "info", str(shared / "data" / "bigearthnet-mm")])
    assert patches.exit_code == 0 and "found_in_subfolders: 28" in patches.output
    assert "_B8A.tif  [geotiff]" in patches.output and "EPSG:32629" in patches.output
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    nothing = runner.invoke(cli, ["data", "info", str(empty)])
    assert nothing.exit_code == 1 and "nor in subfolders" in nothing.output
    runner.invoke(cli, ["data", "sample", "--task", "sar-optical", "--out", str(tmp_path)])
    tree = runner.invoke(cli, ["data", "info", str(tmp_path)])
    assert tree.exit_code == 0 and "sen12mscr" in tree.output and "train_patches: 135" in tree.output


def test_every_sample_sensor_is_known_to_the_metrics_mtf_table() -> None:
    from rsmif_core.ops.mtf import SENSORS, canonical_sensor

    for task in EXPECTED:
        assert canonical_sensor(create_dataset("sample", task=task, split="test_fr").sensor) in SENSORS
