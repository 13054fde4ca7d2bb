"""The installed distribution is found through its real ``rsmif`` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from rsmif_cf2n import CF2N

import rsmif_core
from rsmif_core.plugins.manager import reset_plugins


def _rsmif(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "RSMIF_LOAD_PLUGINS"}
    proc = subprocess.run([sys.executable, "-m", "rsmif_core.cli", *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_rsmif_plugins_lists_cf2n() -> None:
    infos = {p["name"]: p for p in json.loads(_rsmif("plugins", "--json"))}
    assert "cf2n" in infos, sorted(infos)
    info = infos["cf2n"]
    assert info["distribution"] == "rsmif-cf2n" and info["version"] == "0.1.0"
    assert info["error"] is None
    assert info["registered"]["models"] == ["cf2n"]


def test_rsmif_list_models_shows_cf2n_for_every_task() -> None:
    rows = {r["name"]: r for r in json.loads(_rsmif("list", "models", "--json"))}
    assert rows["cf2n"]["distribution"] == "rsmif-cf2n"
    assert set(rows["cf2n"]["tasks"]) == set(rsmif_core.TASKS)


def test_create_model_builds_cf2n() -> None:
    reset_plugins()
    try:
        model = rsmif_core.create_model("cf2n", spectral_bands=4, guide_bands=1, ratio=4, channels=8)
    finally:
        reset_plugins()
    assert isinstance(model, CF2N)
    assert model.arguments["channels"] == 8 and model.arguments["stages"] == 2  # defaults recorded too
