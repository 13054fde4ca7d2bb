"""Discovery through the installed entry point, and the shipped run configurations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rsmif_mmapp import MMAPP, MultiscaleL1

import rsmif_core
from rsmif_core.config import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
EXPECTED_CONFIGS = {
    "pansharpening-wv3", "pansharpening-qb", "pansharpening-gf2", "hyperspectral-pavia", "sar-optical", "ms-hs-cave",
}


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


def test_every_config_is_shipped() -> None:
    assert {p.stem for p in CONFIGS} == EXPECTED_CONFIGS


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_validates(path: Path) -> None:
    cfg = load_config(path, check_paths=False)
    assert cfg.model.name == "mmapp" and cfg.loss.name == "mmapp_multiscale"
    assert cfg.optim.name == "adam" and cfg.optim.lr == 3e-4 and tuple(cfg.optim.betas) == (0.9, 0.999)
    assert cfg.schedule.name == "multistep" and cfg.schedule.milestones == [100] and cfg.schedule.gamma == 0.9
    assert cfg.data.train is not None and cfg.data.train.batch_size == 32 and cfg.trainer.seed == 42
