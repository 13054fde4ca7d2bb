"""A short fit lowers the loss; every shipped run file validates; the plugin is found through its entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from rsmif_ramsf import RAMSF

import rsmif_core
from rsmif_core.config import load_config
from rsmif_core.plugins.manager import reset_plugins
from rsmif_core.testing import TASK_CASES, make_batch, train_briefly

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))


def test_twenty_steps_lower_the_l1_loss():
    case = TASK_CASES["pansharpening-wv3"]
    batch = make_batch(case, size=16, batch_size=2, seed=3)  # random gt: only part of the error is learnable
    torch.manual_seed(0)
    model = RAMSF(case.spectral_bands, case.guide_bands, case.ratio, feat_dim=16, guide_dim=16, mlp_dim=(32, 16), nir_dim=9)
    first, last = train_briefly(model, rsmif_core.create_loss("l1"), batch, steps=20, lr=3e-3)
    assert last < 0.9 * first, (first, last)


def test_every_run_file_is_shipped():
    names = {p.name for p in CONFIGS}
    assert names == {
        "pansharpening-wv3.yaml", "pansharpening-qb.yaml", "pansharpening-gf2.yaml",
        "hyperspectral-pavia.yaml", "sar-optical.yaml", "ms-hs-cave.yaml",
    }


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_run_file_validates(path):
    config = load_config(path, check_paths=False)
    assert config.model.name == "ramsf"
    assert config.loss.name == "l1"
    assert config.optim.name == "adam" and config.optim.lr == 3e-4
    assert config.schedule.name == "multistep" and config.schedule.milestones == [100] and config.schedule.gamma == 0.9
    assert config.trainer.seed == 42
    assert config.data.train is not None and config.data.train.batch_size == 32


def test_discovered_through_the_entry_point():
    from rsmif_core.cli import cli

    reset_plugins()
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    plugins = {p["name"]: p for p in json.loads(result.output)}
    assert "ramsf" in plugins, sorted(plugins)
    assert plugins["ramsf"]["distribution"] == "rsmif-ramsf"
    assert plugins["ramsf"]["registered"] == {"models": ["ramsf"]}
    assert plugins["ramsf"]["error"] is None
    model = rsmif_core.create_model("ramsf", spectral_bands=4, guide_bands=1, ratio=4)
    assert isinstance(model, RAMSF)
    listed = CliRunner().invoke(cli, ["list", "models", "--json"])
    assert "ramsf" in {m["name"] for m in json.loads(listed.output)}
