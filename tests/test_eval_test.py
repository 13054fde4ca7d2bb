"""``rsmif test``: per-image rows, mean ± std, .mat / GeoTIFF export, and clear errors for bad checkpoints."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from test_train_kit import TinyScenes, kit_config, kit_module, write_config  # noqa: F401  (kit_module is a fixture)

from rsmif_core.cli import cli
from rsmif_core.errors import UsageError
from rsmif_core.evaluation.export import to_radiometric
from rsmif_core.evaluation.runner import summarize


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def trained(kit_module: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:  # noqa: F811
    """A 2-step run with rr and fr test splits configured, trained once; returns (config, run folder)."""
    tmp_path = tmp_path_factory.mktemp("trained")
    run_dir = tmp_path / "run"
    cfg = kit_config(run_dir)
    cfg["trainer"] = {**cfg["trainer"], "max_steps": 2, "log_images": False, "val_every": 100}
    cfg["data"]["test"] = {"name": "kit_scenes", "args": {"count": 3, "seed": 7, "georeferenced": True}}
    cfg["data"]["test_fr"] = {"name": "kit_scenes", "args": {"count": 2, "seed": 8, "reference": False, "georeferenced": True}}
    path = write_config(tmp_path / "cfg.yaml", cfg)
    code, out = run(["run", str(path)])
    assert code == 0, out
    return path, run_dir


def test_run_ends_with_rr_and_fr_tables(trained: tuple[Path, Path]) -> None:
    _, run_dir = trained
    for kind, metric, n in (("rr", "kit_mae", 3), ("fr", "kit_gap", 2)):
        rows = list(csv.DictReader((run_dir / f"test_{kind}" / "per_image.csv").open()))
        assert [r["id"] for r in rows] == [f"scene/{i:03d}" for i in range(n)]
        report = json.loads((run_dir / f"test_{kind}" / "per_image.json").read_text())
        values = np.array([float(r[metric]) for r in rows])
        assert report["summary"][metric]["mean"] == pytest.approx(values.mean())
        assert report["summary"][metric]["std"] == pytest.approx(values.std())  # population std, like the papers
        assert report["summary"][metric]["n"] == n
        recorded = json.loads((run_dir / "metrics.json").read_text())[f"test_{kind}"]["summary"]
        assert recorded[metric]["mean"] == pytest.approx(values.mean())


def test_rr_with_mat_export(trained: tuple[Path, Path], tmp_path: Path) -> None:
    from scipy.io import loadmat

    cfg, run_dir = trained
    out = tmp_path / "out"
    code, text = run(["test", str(cfg), "--checkpoint", str(run_dir), "--type", "rr", "--save", "mat", "--out", str(out)])
    assert code == 0, text
    assert "kit_mae" in text and "±" in text
    files = sorted(p.name for p in (out / "images").iterdir())
    assert files == ["scene_000.mat", "scene_001.mat", "scene_002.mat"]
    mat = loadmat(str(out / "images" / "scene_001.mat"))
    assert mat["sr"].shape == (16, 16, 4) and mat["sr"].dtype == np.float32  # H×W×C like the authors' outputs
    assert mat["max_value"].item() == 2047.0 and str(mat["id"][0]) == "scene/001"
    # the saved image is the one scored: its MAE against gt matches the CSV row
    gt = TinyScenes(count=3, seed=7)[1]["gt"].permute(1, 2, 0).numpy()
    row = list(csv.DictReader((out / "per_image.csv").open()))[1]
    assert np.abs(mat["sr"] - gt).mean() == pytest.approx(float(row["kit_mae"]), rel=1e-5)


def test_fr_with_geotiff_export_keeps_georeferencing(trained: tuple[Path, Path], tmp_path: Path) -> None:
    import rasterio

    cfg, run_dir = trained
    out = tmp_path / "out"
    code, text = run(["test", str(cfg), "--checkpoint", str(run_dir / "model.safetensors"), "--type", "fr", "--save", "tif",
                      "--out", str(out)])
    assert code == 0, text
    with rasterio.open(out / "images" / "scene_001.tif") as src:
        assert src.count == 4 and src.dtypes[0] == "float32" and src.profile["tiled"] is False  # 16×16: one strip
        assert src.crs.to_epsg() == 32631
        assert tuple(src.transform)[:6] == (0.5, 0.0, 594001.0, 0.0, -0.5, 5760000.0)
        assert src.compression is not None
    code, text = run(["test", str(cfg), "--checkpoint", str(run_dir), "--type", "fr", "--save", "tif", "--dtype", "uint16",
                      "--out", str(out)])
    assert code == 2 and "already holds" in text and "--overwrite" in text  # an earlier test is never replaced
    code, text = run(["test", str(cfg), "--checkpoint", str(run_dir), "--type", "fr", "--save", "tif", "--dtype", "uint16",
                      "--out", str(out), "--overwrite"])
    assert code == 0, text
    with rasterio.open(out / "images" / "scene_001.tif") as src:
        assert src.dtypes[0] == "uint16" and src.crs.to_epsg() == 32631
        data = src.read()
    assert 0 < data.max() <= 2047


def test_radiometric_scale_rules() -> None:
    fused = torch.tensor([[[0.5, 1.2], [-0.1, 0.25]]])
    dn = to_radiometric(fused, 2047.0, "uint16")  # DN: rounded and clipped to [0, max_value]
    assert dn.dtype == np.uint16 and dn.tolist() == [[[1024, 2047], [0, 512]]]
    raw = to_radiometric(fused, 2047.0)  # the default keeps a network's values as they are
    assert raw.dtype == np.float32 and raw[0, 0, 1] == pytest.approx(1.2 * 2047) and raw[0, 1, 0] < 0
    with pytest.raises(UsageError, match="--dtype uint16 needs a DN scale"):
        to_radiometric(fused, 1.0, "uint16")


def test_summary_is_mean_and_population_std() -> None:
    s = summarize({"m": torch.tensor([1.0, 2.0, 4.0])})["m"]
    assert s["mean"] == pytest.approx(7 / 3) and s["std"] == pytest.approx(np.std([1.0, 2.0, 4.0])) and s["n"] == 3


def test_bad_checkpoints_and_splits_are_clear_errors(trained: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, run_dir = trained
    code, out = run(["test", str(cfg), "--out", str(tmp_path / "o"), "--checkpoint", str(tmp_path / "nope.safetensors")])
    assert code == 2 and "no such checkpoint" in out
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file")
    code, out = run(["test", str(cfg), "--out", str(tmp_path / "o"), "--checkpoint", str(broken)])
    assert code == 2 and "unreadable safetensors" in out
    code, out = run(["test", str(cfg), "--out", str(tmp_path / "o"), "--checkpoint", str(run_dir), "data.test.args.bands=5"])
    assert code == 2 and "checkpoint of another model" in out and "spectral_bands 4 (configured: 5)" in out
    other = yaml.safe_load(cfg.read_text())
    other["model"] = {"name": "exp"}
    code, out = run(["test", str(write_config(tmp_path / "exp.yaml", other)), "--out", str(tmp_path / "o"), "--checkpoint", str(run_dir)])
    assert code == 2 and "model 'pnn' (configured: 'exp')" in out
    code, out = run(["test", str(cfg), "--out", str(tmp_path / "o"), "--checkpoint", str(run_dir), "data.test.args.reference=false"])
    assert code == 2 and "needs reference images" in out


def test_authors_pth_state_dict_loads_weights_only(trained: tuple[Path, Path], tmp_path: Path) -> None:
    from safetensors.torch import load_file

    cfg, run_dir = trained
    state = load_file(str(run_dir / "model.safetensors"))
    pth = tmp_path / "authors.pth"
    torch.save({"net": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, pth)  # the authors' checkpoint layout
    code, out = run(["test", str(cfg), "--checkpoint", str(pth), "--out", str(tmp_path / "a")])
    assert code == 0, out
    ours = json.loads((run_dir / "test_rr" / "per_image.json").read_text())["summary"]["kit_mae"]["mean"]
    theirs = json.loads((tmp_path / "a" / "per_image.json").read_text())["summary"]["kit_mae"]["mean"]
    assert theirs == pytest.approx(ours)


def test_a_checkpoint_folder_can_be_tested(trained: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, run_dir = trained
    folder = run_dir / "checkpoints" / "step_00000002"
    code, out = run(["test", str(cfg), "--checkpoint", str(folder), "--out", str(tmp_path / "c")])
    assert code == 0, out
    final = json.loads((run_dir / "test_rr" / "per_image.json").read_text())["summary"]["kit_mae"]["mean"]
    from_folder = json.loads((tmp_path / "c" / "per_image.json").read_text())
    assert from_folder["weights"].endswith("step_00000002/model.safetensors")
    assert from_folder["summary"]["kit_mae"]["mean"] == pytest.approx(final)  # step 2 is the final step


def test_the_default_test_folder_never_replaces_an_earlier_test(tmp_path: Path) -> None:
    from rsmif_core.run.test import default_test_folder

    assert default_test_folder(tmp_path, "rr", overwrite=False) == tmp_path / "test_rr"
    (tmp_path / "test_rr").mkdir()
    assert default_test_folder(tmp_path, "rr", overwrite=False) == tmp_path / "test_rr"  # empty: free
    (tmp_path / "test_rr" / "per_image.csv").write_text("id\n")
    (tmp_path / "test_rr_2" / "images").mkdir(parents=True)
    assert default_test_folder(tmp_path, "rr", overwrite=False) == tmp_path / "test_rr_3"
    assert default_test_folder(tmp_path, "rr", overwrite=True) == tmp_path / "test_rr"
    assert default_test_folder(tmp_path, "fr", overwrite=False) == tmp_path / "test_fr"
