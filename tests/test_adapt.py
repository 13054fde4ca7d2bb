"""``rsmif adapt`` on a real WorldView-2 crop: the loss falls, the run folder holds the best weights and
loads in ``rsmif test``; a run folder or a weights file is a source; Ctrl-C and --resume; bad input."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from _helpers import wv2_geotiff_pair
from click.testing import CliRunner
from safetensors.torch import load_file

from rsmif_core.cli import cli
from rsmif_core.training.checkpoints import META_FILE


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def scene(shared: Path, tmp_path: Path) -> tuple[Path, Path]:
    """128×128 PAN / 32×32 MS of real WorldView-2 data."""
    return wv2_geotiff_pair(shared, tmp_path / "scene", nodata_columns=None, window=(80, 40, 32, 32))


def adapt_args(source: str, scene: tuple[Path, Path], out: Path, *extra: str) -> list[str]:
    pan, ms = scene
    return ["adapt", source, "--pan", str(pan), "--ms", str(ms), "--out", str(out), "--sensor", "WV2",
            "--patch-size", "64", "--patches", "4", "trainer.progress=false", "trainer.log_images=false", *extra]


def history(run_dir: Path) -> list[dict]:
    return json.loads((run_dir / "metrics.json").read_text())["validation"]


def test_adapting_lowers_the_loss_and_keeps_the_best_weights(scene: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "adapted"
    code, text = run(adapt_args("pnn", scene, out, "--steps", "4", "--val-every", "1", "--lr", "1e-4"))
    assert code == 0, text
    rows = history(out)
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4]
    assert all({"loss", "d_lambda_k", "d_s", "hqnr"} <= set(r) for r in rows)
    assert min(r["loss"] for r in rows[1:]) < rows[0]["loss"]
    best = min(rows, key=lambda r: r["loss"])
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["best_step"] == best["step"] and summary["best_metric"] == "loss"
    final, kept = load_file(str(out / "model.safetensors")), load_file(str(out / "checkpoints" / "best" /
                                                                            "model.safetensors"))
    assert all(torch.equal(final[k], kept[k.removeprefix("module.")] if k in kept else kept[k]) for k in final)
    assert "adapted: loss" in text and "hqnr" in text and "rsmif predict" in text
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["loss"]["name"] == "lambda_pnn" and cfg["data"]["train"]["name"] == "scene_patches"
    assert cfg["trainer"]["final_weights"] == "best" and cfg["optim"]["weight_decay"] == 1e-4

    # the adapted run is an ordinary run: rsmif test scores it at full resolution on the same scene
    code, text = run(["test", str(out), "--type", "fr", "data.test_fr=${data.val}", "--out", str(tmp_path / "fr")])
    assert code == 0, text
    rows_fr = (tmp_path / "fr" / "per_image.csv").read_text().splitlines()
    assert rows_fr[0].startswith("id") and len(rows_fr) == 2

    # a run folder and a weights file are sources too: the model and its arguments come with them
    again = tmp_path / "again"
    code, text = run(adapt_args(str(out), scene, again, "--steps", "1", "--val-every", "1"))
    assert code == 0, text
    assert yaml.safe_load((again / "config.yaml").read_text())["model"]["init_from"] == str(out / "model.safetensors")
    first = history(again)[0]
    assert abs(first["loss"] - best["loss"]) < 1e-4 * max(1.0, abs(best["loss"]))  # it starts where the first ended
    code, text = run(adapt_args(str(out / "model.safetensors"), scene, tmp_path / "from-file", "--steps", "1"))
    assert code == 0, text


def test_the_paper_recipe_is_the_default(scene: tuple[Path, Path], tmp_path: Path) -> None:
    from rsmif_core.run.adapt import AdaptRequest, adaptation_config

    pan, ms = scene
    cfg = adaptation_config(AdaptRequest(source="pnn", pan=str(pan), ms=str(ms), out=str(tmp_path / "o"), sensor="WV2"))
    assert cfg.optim.name == "adam" and cfg.optim.lr == 3.5e-5 and cfg.optim.weight_decay == 1e-4
    assert cfg.trainer.max_steps == 100 and cfg.loss.name == "lambda_pnn" and cfg.model.init_from is None
    assert cfg.data.train is not None and cfg.data.train.batch_size == 1  # a small scene trains whole
    geoeye = adaptation_config(AdaptRequest(source="pnn", pan=str(pan), ms=str(ms), out=str(tmp_path / "o"),
                                            sensor="GeoEye1", loss="zpnn"))
    assert geoeye.optim.lr == 5e-5 and geoeye.optim.weight_decay == 0.0 and geoeye.loss.name == "zpnn"
    assert geoeye.trainer.best_metric == "loss" and geoeye.trainer.best_mode == "min"


def test_hqnr_loss_and_keeping_the_best_hqnr(scene: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "adapted"
    code, text = run(adapt_args("pnn", scene, out, "--loss", "hqnr", "--keep", "hqnr", "--steps", "3",
                                "--val-every", "1"))
    assert code == 0, text
    rows = history(out)
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["best_metric"] == "hqnr" and summary["best_step"] == max(rows, key=lambda r: r["hqnr"])["step"]
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["loss"]["name"] == "hqnr" and cfg["optim"]["lr"] == 1e-4 and cfg["optim"]["weight_decay"] == 0.0
    assert all(abs(r["loss"] - (1 - r["hqnr"])) < 0.05 for r in rows)  # the loss is 1 − HQNR without uint16 rounding
    code, text = run(adapt_args("pnn", scene, tmp_path / "bad", "--keep", "ssim"))
    assert code == 2 and "--keep" in text


def test_ctrl_c_stops_with_a_checkpoint_and_resume_finishes(scene: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "adapted"
    args = adapt_args("pnn", scene, out, "--steps", "400", "--val-every", "1", "trainer.keep_last=2")
    proc = subprocess.Popen([sys.executable, "-m", "rsmif_core.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not list((out / "checkpoints").glob("step_*")):
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    assert "continue with --resume" in output and not (out / "model.safetensors").exists()
    stopped = json.loads((sorted((out / "checkpoints").glob("step_*"))[-1] / META_FILE).read_text())["step"]
    code, text = run([*adapt_args("pnn", scene, out, "--steps", "400", "--val-every", "1", "trainer.keep_last=2"),
                      "--resume", f"trainer.max_steps={stopped + 2}"])
    assert code == 0, text
    assert "resumed from" in text and (out / "model.safetensors").is_file()
    assert history(out)[-1]["step"] == stopped + 2


def fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_bad_input_is_named_before_any_work(scene: tuple[Path, Path], tmp_path: Path) -> None:
    pan, ms = scene
    code, text = run(adapt_args(str(tmp_path / "nowhere"), scene, tmp_path / "o"))
    assert code == 2 and "not a run folder, a weights file or a registered model" in text
    assert not (tmp_path / "o").exists()
    authors = tmp_path / "authors.pth"
    torch.save({"w": torch.zeros(1)}, authors)
    code, text = run(adapt_args(str(authors), scene, tmp_path / "o"))
    assert code == 2 and "--model" in text
    code, text = run(adapt_args("pnn", (pan, tmp_path / "missing.tif"), tmp_path / "o"))
    assert code == 2 and "missing.tif" in text and "no such file" in text
    code, text = run([*adapt_args("pnn", scene, tmp_path / "o"), "--sensor", "WV9"])
    assert code == 2 and "WV9" in text
    assert not (tmp_path / "o").exists()

    # an existing run is never replaced without --overwrite: every file stays byte-identical
    out = tmp_path / "adapted"
    assert run(adapt_args("pnn", scene, out, "--steps", "1"))[0] == 0
    before = fingerprint(out)
    code, text = run(adapt_args("pnn", scene, out, "--steps", "1"))
    assert code == 2 and "already holds a run" in text and "--overwrite" in text
    assert fingerprint(out) == before


def test_rsmif_run_trains_at_full_resolution_from_a_simulated_folder(shared: Path, tmp_path: Path) -> None:
    """Item 2 of the issue: a ``data simulate`` folder feeds training without reference, at the original scale."""
    from rsmif_core.data.manifest import split_file_names
    from rsmif_core.data.rasters import read_raster
    from rsmif_core.data.simulation import SimulationOptions, simulate

    pan, ms = wv2_geotiff_pair(shared, tmp_path / "scene", nodata_columns=None)
    folder = tmp_path / "sim"
    simulate([(read_raster(pan), read_raster(ms))], folder, SimulationOptions(sensor="WV2"))
    patches = {"folder": str(folder), "patch_size": 64, "patches": 4}
    config = tmp_path / "fr.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"name": "pnn"},
        "data": {"train": {"name": "scene_patches", "args": {**patches, "split": "train"}, "batch_size": 4},
                 "val": {"name": "scene_patches", "args": {**patches, "split": "valid"}, "batch_size": 4},
                 "test_fr": {"name": "pancollection", "args": {"path": str(folder / split_file_names("wv2")["test_fr"])},
                             "batch_size": 1}},
        "loss": {"name": "lambda_pnn"},
        "optim": {"name": "adam", "lr": 1e-4},
        "trainer": {"max_steps": 2, "output_dir": str(tmp_path / "run"), "val_every": 2, "progress": False,
                    "log_images": False, "best_metric": "hqnr"},
    }))
    code, text = run(["run", str(config)])
    assert code == 0, text
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert summary["best_metric"] == "hqnr" and 0 < summary["best_value"] <= 1
    assert {"d_lambda_k", "d_s", "hqnr", "loss"} <= set(summary["validation"][-1])
    assert "test_fr" in summary and "hqnr" in json.dumps(summary["test_fr"])
