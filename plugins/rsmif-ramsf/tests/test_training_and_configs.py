"""A short fit lowers the loss; every shipped config validates and the sample ones train; the plugin is found
through its entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rsmif_ramsf
import torch
from click.testing import CliRunner
from rsmif_ramsf import RAMSF

import rsmif_core
from rsmif_core.config import load_config
from rsmif_core.plugins.manager import reset_plugins
from rsmif_core.testing import (
    TASK_CASES,
    check_configs_train,
    check_shipped_configs,
    check_wheel_ships_configs,
    make_batch,
    train_briefly,
)

TASKS = ("pansharpening", "hyperspectral", "sar-optical", "ms-hs")
SETTINGS = (*TASKS, "pansharpening-wv3", "pansharpening-qb", "pansharpening-gf2", "hyperspectral-pavia",
            "sar-optical-sen12mscr", "ms-hs-cave")


def test_twenty_steps_lower_the_l1_loss():
    case = TASK_CASES["pansharpening-wv3"]
    batch = make_batch(case, size=16, batch_size=2, seed=3)  # random gt: only part of the error is learnable
    torch.manual_seed(0)
    model = RAMSF(case.spectral_bands, case.guide_bands, case.ratio, feat_dim=16, guide_dim=16, mlp_dim=(32, 16), nir_dim=9)
    first, last = train_briefly(model, rsmif_core.create_loss("l1"), batch, steps=20, lr=3e-3)
    assert last < 0.9 * first, (first, last)


def test_every_config_is_shipped_inside_the_package():
    names = {e.name for e in rsmif_core.describe("configs") if e.plugin == "ramsf"}
    assert names == {f"ramsf:{s}" for s in SETTINGS}
    package = Path(rsmif_ramsf.__file__).parent
    for entry in rsmif_core.describe("configs"):
        if entry.plugin == "ramsf":
            assert Path(str(entry.factory)).parent == package / "configs"


@pytest.mark.parametrize("setting", SETTINGS)
def test_config_validates_with_the_authors_recipe(setting):
    config = load_config(f"ramsf:{setting}", check_paths=setting in TASKS)
    assert config.model.name == "ramsf"
    assert config.model.args == {"feat_dim": 64, "guide_dim": 64, "mlp_dim": [256, 128], "nir_dim": 33}
    assert config.loss.name == "l1"
    assert (config.optim.name, config.optim.lr, config.optim.betas, config.optim.eps) == ("adam", 3e-4, (0.9, 0.999), 1e-8)
    assert config.schedule.name == "multistep" and config.schedule.milestones == [100] and config.schedule.gamma == 0.9
    assert config.trainer.seed == 42
    assert config.data.train is not None and config.data.train.batch_size == 32
    sample = setting in TASKS
    assert (config.data.train.name == "sample") == sample
    assert config.trainer.epochs is not None and (config.trainer.epochs == 600) != sample  # the paper's, or a CPU budget
    assert config.eval.sensor is None  # the sensor and its MTF gains come from the data


def test_every_shipped_config_loads():
    assert len(check_shipped_configs("ramsf")) == len(SETTINGS)


@pytest.mark.slow
def test_sample_configs_train_and_test_without_a_warning(tmp_path):
    # the config's batches of 32 at their real widths take long on a CPU: 4 images give the same code path
    check_configs_train([f"ramsf:{t}" for t in TASKS], tmp_path, "data.train.batch_size=4", "data.val.batch_size=4",
                        "runtime.threads=1")


def test_the_wheel_ships_the_configs(tmp_path):
    shipped = check_wheel_ships_configs(Path(__file__).resolve().parents[1], tmp_path)
    assert shipped == sorted(f"rsmif_ramsf/configs/{s}.yaml" for s in SETTINGS)


def test_discovered_through_the_entry_point():
    from rsmif_core.cli import cli

    reset_plugins()
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    plugins = {p["name"]: p for p in json.loads(result.output)}
    assert "ramsf" in plugins, sorted(plugins)
    assert plugins["ramsf"]["distribution"] == "rsmif-ramsf"
    assert plugins["ramsf"]["registered"] == {"models": ["ramsf"], "configs": sorted(f"ramsf:{s}" for s in SETTINGS)}
    assert plugins["ramsf"]["error"] is None
    model = rsmif_core.create_model("ramsf", spectral_bands=4, guide_bands=1, ratio=4)
    assert isinstance(model, RAMSF)
    listed = CliRunner().invoke(cli, ["list", "models", "--json"])
    assert "ramsf" in {m["name"] for m in json.loads(listed.output)}
