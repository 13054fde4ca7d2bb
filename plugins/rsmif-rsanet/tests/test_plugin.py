"""Discovery through the real entry point, and the shipped run configurations (rsanet:TASK on the built-in
sample, rsanet:TASK-COLLECTION with the paper's full setting)."""

from __future__ import annotations

from pathlib import Path

import pytest
import rsmif_rsanet
from rsmif_rsanet import RSANet

from rsmif_core import available, create_model, describe
from rsmif_core.config import load_config
from rsmif_core.testing import (
    check_configs_train,
    check_plugin_discovery,
    check_shipped_configs,
    check_wheel_ships_configs,
)
from rsmif_core.types import TASKS

SETTINGS = (*TASKS, "pansharpening-wv3", "pansharpening-qb", "pansharpening-gf2", "hyperspectral-pavia",
            "sar-optical-sen12mscr", "ms-hs-cave")


def test_listed_by_rsmif_plugins():
    check_plugin_discovery("rsmif-rsanet", models=["rsanet"])


def test_built_by_name():
    assert "rsanet" in available("models")
    model = create_model("rsanet", spectral_bands=13, guide_bands=2, ratio=1)
    assert isinstance(model, RSANet)


def test_every_config_is_shipped_inside_the_package():
    entries = [e for e in describe("configs") if e.plugin == "rsanet"]
    assert {e.name for e in entries} == {f"rsanet:{s}" for s in SETTINGS}
    package = Path(rsmif_rsanet.__file__).parent
    assert all(Path(str(e.factory)).parent == package / "configs" for e in entries)
    assert len(check_shipped_configs("rsanet")) == len(SETTINGS)


@pytest.mark.parametrize("setting", SETTINGS)
def test_config_is_valid_and_follows_the_recipe(setting):
    sample = setting in TASKS
    cfg = load_config(f"rsanet:{setting}", check_paths=sample)
    assert cfg.model.name == "rsanet"
    assert cfg.loss.name == "l1"
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.betas, cfg.optim.eps) == ("adam", 3e-4, (0.9, 0.999), 1e-8)
    assert (cfg.schedule.name, cfg.schedule.milestones, cfg.schedule.gamma, cfg.schedule.interval) == (
        "multistep", [100], 0.9, "epoch")
    assert cfg.data.train is not None and cfg.data.train.batch_size == 32
    assert (cfg.data.train.name == "sample") == sample
    assert cfg.trainer.seed == 42
    assert cfg.trainer.epochs is not None and (cfg.trainer.epochs == 600) != sample  # the paper's, or a CPU budget
    assert cfg.eval.sensor is None  # the sensor and its MTF gains come from the data
    RSANet(spectral_bands=8, guide_bands=1, ratio=4, **cfg.model.args)  # the args are the constructor's


@pytest.mark.slow
def test_sample_configs_train_two_steps_without_a_warning(tmp_path: Path) -> None:
    # two steps of each sample config in one fresh process under -W error; tiny batches keep it quick on a CPU
    check_configs_train([f"rsanet:{task}" for task in TASKS], tmp_path, "data.train.batch_size=2",
                        "data.val.batch_size=2", "runtime.threads=1")


def test_the_wheel_ships_the_configs(tmp_path: Path) -> None:
    shipped = check_wheel_ships_configs(Path(__file__).resolve().parents[1], tmp_path)
    assert shipped == sorted(f"rsmif_rsanet/configs/{s}.yaml" for s in SETTINGS)
