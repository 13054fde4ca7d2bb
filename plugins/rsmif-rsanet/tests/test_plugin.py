"""Discovery through the real entry point, and the shipped run files."""

from __future__ import annotations

from pathlib import Path

import pytest
from rsmif_rsanet import RSANet

from rsmif_core import available, create_model
from rsmif_core.config import load_config
from rsmif_core.testing import check_plugin_discovery

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_listed_by_rsmif_plugins():
    check_plugin_discovery("rsmif-rsanet", models=["rsanet"])


def test_built_by_name():
    assert "rsanet" in available("models")
    model = create_model("rsanet", spectral_bands=13, guide_bands=2, ratio=1)
    assert isinstance(model, RSANet)


def test_every_task_has_a_config():
    assert [p.name for p in CONFIGS] == sorted([
        "pansharpening-wv3.yaml", "pansharpening-qb.yaml", "pansharpening-gf2.yaml",
        "hyperspectral-pavia.yaml", "sar-optical.yaml", "ms-hs-cave.yaml",
    ])


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_is_valid_and_follows_the_recipe(path):
    cfg = load_config(path, check_paths=False)
    assert cfg.model.name == "rsanet"
    assert cfg.loss.name == "l1"
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.betas, cfg.optim.eps) == ("adam", 3e-4, (0.9, 0.999), 1e-8)
    assert (cfg.schedule.name, cfg.schedule.milestones, cfg.schedule.gamma, cfg.schedule.interval) == (
        "multistep", [100], 0.9, "epoch")
    assert cfg.data.train is not None and cfg.data.train.batch_size == 32
    assert cfg.trainer.seed == 42
    RSANet(8, 1, 4, **cfg.model.args)  # the args are the constructor's
