"""Every shipped run file validates (schema, registered names, constructor arguments) and holds the recipe."""

from __future__ import annotations

from pathlib import Path

import pytest
from rsmif_cf2n import CF2N

from rsmif_core.config import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
EXPECTED = [
    "hyperspectral-pavia.yaml",
    "ms-hs-cave.yaml",
    "pansharpening-gf2.yaml",
    "pansharpening-qb.yaml",
    "pansharpening-wv3.yaml",
    "sar-optical.yaml",
]


def test_all_task_configs_are_shipped() -> None:
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_config_validates_with_the_authors_recipe(name: str) -> None:
    cfg = load_config(CONFIGS / name, check_paths=False)
    assert cfg.model.name == "cf2n"
    assert cfg.loss.name == "l1"
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.betas, cfg.optim.eps) == ("adam", 3e-4, (0.9, 0.999), 1e-8)
    assert (cfg.schedule.name, cfg.schedule.milestones, cfg.schedule.gamma, cfg.schedule.interval) == (
        "multistep", [100], 0.9, "epoch")
    assert cfg.trainer.seed == 42 and cfg.trainer.epochs == 600
    assert cfg.data.train is not None and cfg.data.train.batch_size == 32
    CF2N(8, 1, 4, **cfg.model.args)  # the model arguments build the network
