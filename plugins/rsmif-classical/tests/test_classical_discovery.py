"""The installed distribution is found through its real ``rsmif`` entry point, with the 17 toolbox names."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from rsmif_classical import GS, MODELS

import rsmif_core
from rsmif_core.plugins.manager import reset_plugins

NAMES = [
    "bt-h", "bdsd", "c-bdsd", "bdsd-pc", "gs", "gsa", "c-gsa", "pracs", "awlp", "mtf-glp", "mtf-glp-fs",
    "mtf-glp-hpm", "mtf-glp-hpm-r", "mtf-glp-cbd", "c-mtf-glp-cbd", "mf", "fe-hpm",
]


def _rsmif(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "RSMIF_LOAD_PLUGINS"}
    proc = subprocess.run([sys.executable, "-m", "rsmif_core.cli", *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_rsmif_plugins_and_list_models_show_the_toolbox_names() -> None:
    assert list(MODELS) == NAMES
    infos = {p["name"]: p for p in json.loads(_rsmif("plugins", "--json"))}
    info = infos["classical"]
    assert info["distribution"] == "rsmif-classical" and info["version"] == "0.1.0" and info["error"] is None
    assert sorted(info["registered"]["models"]) == sorted(NAMES)
    rows = {r["name"]: r for r in json.loads(_rsmif("list", "models", "--json"))}
    for name in NAMES:
        assert rows[name]["distribution"] == "rsmif-classical"
        assert set(rows[name]["tasks"]) == {"pansharpening", "hyperspectral"}


def test_create_model_builds_a_classical_model() -> None:
    reset_plugins()
    try:
        model = rsmif_core.create_model("gs", spectral_bands=4, guide_bands=1, ratio=4, clip=True)
    finally:
        reset_plugins()
    assert isinstance(model, GS)
    assert model.arguments == {"clip": True}
