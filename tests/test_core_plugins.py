"""Plugin discovery through real entry points (dist-info directories on sys.path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _helpers import make_distribution
from click.testing import CliRunner

import rsmif_core
from rsmif_core.cli import cli
from rsmif_core.plugins.manager import PluginLoadError, plugin_infos, reset_plugins

GOOD = """
import rsmif_core
from rsmif_core.models.baselines import EXP


class TinyNet(EXP):
    '''A throw-away network from a third-party plugin.'''


@rsmif_core.hookimpl
def register_models(register):
    register("tinynet", TinyNet, tasks=("pansharpening",))
"""

BROKEN = """
raise ImportError("this plugin is broken on purpose")
"""

TYPO = """
import rsmif_core


@rsmif_core.hookimpl
def register_modles(register):
    register("never", object)
"""

CLASH = """
import rsmif_core
from rsmif_core.models.baselines import EXP


@rsmif_core.hookimpl
def register_models(register):
    register("tinynet", EXP)
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_plugins: None) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("RSMIF_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("RSMIF_STRICT_PLUGINS", raising=False)
    return tmp_path


def infos_by_name() -> dict[str, dict]:
    return {i.name: i.as_dict() for i in plugin_infos()}


def test_builtins_register_through_hooks(fresh_plugins: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RSMIF_LOAD_PLUGINS", "")
    infos = infos_by_name()
    assert infos["rsmif.models"]["registered"]["models"] == ["pnn", "exp"]
    assert {"l1", "mse"} <= set(rsmif_core.available("losses"))
    assert all(i["builtin"] and i["distribution"] == "rsmif" for i in infos.values())


def test_installed_plugin_is_discovered_and_created(site: Path) -> None:
    make_distribution(site, "rsmif-tinynet", "rsmif_tinynet", GOOD)
    info = infos_by_name()["rsmif_tinynet"]
    assert info["distribution"] == "rsmif-tinynet" and info["version"] == "0.3.1" and info["error"] is None
    assert info["registered"] == {"models": ["tinynet"]}
    model = rsmif_core.create_model("tinynet", spectral_bands=4, guide_bands=1, ratio=4)
    assert type(model).__name__ == "TinyNet"
    result = CliRunner().invoke(cli, ["list", "models", "--json"])
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["tinynet"]["distribution"] == "rsmif-tinynet"
    assert rows["tinynet"]["tasks"] == ["pansharpening"]


def test_broken_plugin_is_reported_and_others_keep_working(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_distribution(site, "rsmif-tinynet", "rsmif_tinynet", GOOD)
    make_distribution(site, "rsmif-broken", "rsmif_broken", BROKEN)
    infos = infos_by_name()
    assert "broken on purpose" in infos["rsmif_broken"]["error"]
    assert infos["rsmif_broken"]["distribution"] == "rsmif-broken"
    assert "rsmif_broken = rsmif_broken" in infos["rsmif_broken"]["error"]
    assert infos["rsmif_tinynet"]["error"] is None
    assert "tinynet" in rsmif_core.available("models")
    assert "rsmif-broken" in capsys.readouterr().err


def test_broken_plugin_does_not_break_the_command_line(site: Path) -> None:
    make_distribution(site, "rsmif-tinynet", "rsmif_tinynet", GOOD)
    make_distribution(site, "rsmif-broken", "rsmif_broken", BROKEN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    env.pop("RSMIF_LOAD_PLUGINS", None)
    help_run = subprocess.run([sys.executable, "-m", "rsmif_core.cli", "--help"], env=env, capture_output=True, text=True)
    assert help_run.returncode == 0, help_run.stderr
    assert "plugins" in help_run.stdout
    listing = subprocess.run(
        [sys.executable, "-m", "rsmif_core.cli", "plugins", "--json"], env=env, capture_output=True, text=True
    )
    assert listing.returncode == 0, listing.stderr
    rows = {r["name"]: r for r in json.loads(listing.stdout)}
    assert rows["rsmif_broken"]["error"] and rows["rsmif_tinynet"]["registered"] == {"models": ["tinynet"]}


def test_strict_mode_reraises(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_distribution(site, "rsmif-broken", "rsmif_broken", BROKEN)
    monkeypatch.setenv("RSMIF_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="rsmif-broken"):
        plugin_infos()


def test_load_plugins_allow_list(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_distribution(site, "rsmif-tinynet", "rsmif_tinynet", GOOD)
    make_distribution(site, "rsmif-broken", "rsmif_broken", BROKEN)
    monkeypatch.setenv("RSMIF_LOAD_PLUGINS", "")
    assert "rsmif_tinynet" not in infos_by_name()
    reset_plugins()
    monkeypatch.setenv("RSMIF_LOAD_PLUGINS", "rsmif_tinynet")  # normalised like a distribution name
    names = infos_by_name()
    assert "rsmif_tinynet" in names and "rsmif_broken" not in names


def test_misspelt_hook_is_an_error_at_load_time(site: Path) -> None:
    make_distribution(site, "rsmif-typo", "rsmif_typo", TYPO)
    error = infos_by_name()["rsmif_typo"]["error"]
    assert "register_modles" in error and "unknown hook" in error


def test_same_name_from_two_plugins_names_both(site: Path) -> None:
    make_distribution(site, "rsmif-tinynet", "rsmif_tinynet", GOOD)
    make_distribution(site, "rsmif-clash", "rsmif_zclash", CLASH)
    with pytest.raises(rsmif_core.RegistryError) as info:
        rsmif_core.create_model("tinynet", spectral_bands=4, guide_bands=1, ratio=4)
    assert "rsmif-tinynet" in str(info.value) and "rsmif-clash" in str(info.value)
    assert "rsmif-tinynet" in (infos_by_name()["rsmif_zclash"]["error"] or "")


def test_unknown_name_suggests_close_matches(fresh_plugins: None) -> None:
    with pytest.raises(rsmif_core.RegistryError, match="Did you mean 'pnn'"):
        rsmif_core.create_model("pnm", spectral_bands=4, guide_bands=1, ratio=4)
    with pytest.raises(ValueError, match="unknown kind"):
        rsmif_core.available("modelz")
