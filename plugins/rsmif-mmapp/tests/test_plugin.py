"""Discovery through the installed entry point, and the shipped run configurations (mmapp:TASK on the built-in
sample, mmapp:TASK-COLLECTION with the paper's full setting)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import rsmif_mmapp
from rsmif_mmapp import MMAPP, MultiscaleL1

import rsmif_core
from rsmif_core.config import load_config
from rsmif_core.testing import check_configs_train, check_shipped_configs, check_wheel_ships_configs
from rsmif_core.types import TASKS

SETTINGS = (*TASKS, "pansharpening-wv3", "pansharpening-qb", "pansharpening-gf2", "hyperspectral-pavia",
            "sar-optical-sen12mscr", "ms-hs-cave")


def test_cli_lists_the_plugin() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "rsmif_core.cli", "plugins", "--json"], capture_output=True, text=True, check=False
    )
    if res.returncode != 0 or not res.stdout.strip().startswith("["):
        res = subprocess.run(["rsmif", "plugins", "--json"], capture_output=True, text=True, check=True)
    plugins = {p["name"]: p for p in json.loads(res.stdout)}
    assert "mmapp" in plugins, sorted(plugins)
    entry = plugins["mmapp"]
    assert entry["distribution"] == "rsmif-mmapp" and entry["error"] is None
    assert entry["registered"]["models"] == ["mmapp"]
    assert entry["registered"]["losses"] == ["mmapp_multiscale"]


def test_registry_builds_the_model_and_loss() -> None:
    assert "mmapp" in rsmif_core.available("models")
    model = rsmif_core.create_model("mmapp", spectral_bands=4, guide_bands=1, ratio=4)
    assert isinstance(model, MMAPP) and model.spectral_bands == 4
    assert isinstance(rsmif_core.create_loss("mmapp_multiscale"), MultiscaleL1)


def test_every_config_is_shipped_inside_the_package() -> None:
    entries = [e for e in rsmif_core.describe("configs") if e.plugin == "mmapp"]
    assert {e.name for e in entries} == {f"mmapp:{s}" for s in SETTINGS}
    package = Path(rsmif_mmapp.__file__).parent
    assert all(Path(str(e.factory)).parent == package / "configs" for e in entries)
    assert len(check_shipped_configs("mmapp")) == len(SETTINGS)


@pytest.mark.parametrize("setting", SETTINGS)
def test_config_validates_with_the_authors_recipe(setting: str) -> None:
    sample = setting in TASKS
    cfg = load_config(f"mmapp:{setting}", check_paths=sample)
    assert cfg.model.name == "mmapp" and cfg.loss.name == "mmapp_multiscale"
    assert cfg.optim.name == "adam" and cfg.optim.lr == 3e-4 and tuple(cfg.optim.betas) == (0.9, 0.999)
    assert cfg.schedule.name == "multistep" and cfg.schedule.milestones == [100] and cfg.schedule.gamma == 0.9
    assert cfg.data.train is not None and cfg.data.train.batch_size == 32 and cfg.trainer.seed == 42
    assert (cfg.data.train.name == "sample") == sample
    assert cfg.trainer.epochs is not None and (cfg.trainer.epochs == 1200) != sample  # the paper's, or a CPU budget
    assert cfg.eval.sensor is None  # the sensor and its MTF gains come from the data


@pytest.mark.slow
def test_sample_configs_train_two_steps_without_a_warning(tmp_path: Path) -> None:
    # two steps of each sample config in one fresh process under -W error; tiny batches keep it quick on a CPU
    check_configs_train([f"mmapp:{task}" for task in TASKS], tmp_path, "data.train.batch_size=2",
                        "data.val.batch_size=2", "runtime.threads=1")


def test_the_wheel_ships_the_configs(tmp_path: Path) -> None:
    shipped = check_wheel_ships_configs(Path(__file__).resolve().parents[1], tmp_path)
    assert shipped == sorted(f"rsmif_mmapp/configs/{s}.yaml" for s in SETTINGS)
