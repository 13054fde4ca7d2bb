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
from rsmif_core.config.environment import read_environment
from rsmif_core.errors import PluginLoadError
from rsmif_core.plugins.manager import PluginSelection, PluginWarning, plugin_infos, reset_plugins

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
    register("pnn", EXP)
"""

EXITS = """
import sys

sys.exit(3)
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_plugins: None) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def infos_by_name() -> dict[str, dict]:
    return {i.name: i.as_dict() for i in plugin_infos()}


def test_builtins_register_through_hooks(fresh_plugins: None) -> None:
    reset_plugins(PluginSelection(only=frozenset()))
    infos = infos_by_name()
    assert list(infos) == ["rsmif"]
    assert infos["rsmif"]["registered"]["models"] == ["pnn", "exp"]
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


def test_broken_plugin_is_reported_and_others_keep_working(site: Path) -> None:
    make_distribution(site, "rsmif-tinynet", "rsmif_tinynet", GOOD)
    make_distribution(site, "rsmif-broken", "rsmif_broken", BROKEN)
    with pytest.warns(PluginWarning, match="rsmif-broken"):
        infos = infos_by_name()
    assert "broken on purpose" in infos["rsmif_broken"]["error"]
    assert infos["rsmif_broken"]["distribution"] == "rsmif-broken"
    assert "rsmif_broken = rsmif_broken" in infos["rsmif_broken"]["error"]
    assert infos["rsmif_tinynet"]["error"] is None
    assert "tinynet" in rsmif_core.available("models")


def test_broken_plugin_does_not_break_the_command_line(site: Path) -> None:
    make_distribution(site, "rsmif-tinynet", "rsmif_tinynet", GOOD)
    make_distribution(site, "rsmif-broken", "rsmif_broken", BROKEN)
    make_distribution(site, "rsmif-exits", "rsmif_exits", EXITS)
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
    assert "SystemExit: 3" in rows["rsmif_exits"]["error"]
    assert "rsmif: warning: plugin 'rsmif_exits'" in listing.stderr
    only = subprocess.run([sys.executable, "-m", "rsmif_core.cli", "plugins", "--json"], capture_output=True, text=True,
                          env={**env, "RSMIF_LOAD_PLUGINS": "rsmif_tinynet"})
    assert only.returncode == 0, only.stderr
    assert {r["name"] for r in json.loads(only.stdout)} == {"rsmif", "rsmif_tinynet"}


def test_strict_mode_reraises(site: Path) -> None:
    make_distribution(site, "rsmif-broken", "rsmif_broken", BROKEN)
    reset_plugins(PluginSelection(strict=True))
    with pytest.raises(PluginLoadError, match="rsmif-broken"):
        plugin_infos()


def test_load_plugins_allow_list(site: Path) -> None:
    make_distribution(site, "rsmif-tinynet", "rsmif_tinynet", GOOD)
    make_distribution(site, "rsmif-broken", "rsmif_broken", BROKEN)
    reset_plugins(read_selection({"RSMIF_LOAD_PLUGINS": ""}))
    assert "rsmif_tinynet" not in infos_by_name()
    reset_plugins(read_selection({"RSMIF_LOAD_PLUGINS": "rsmif_tinynet"}))  # normalised like a distribution name
    names = infos_by_name()
    assert "rsmif_tinynet" in names and "rsmif_broken" not in names


def read_selection(environ: dict[str, str]) -> PluginSelection:
    env = read_environment(environ)
    return PluginSelection(only=env.load_plugins, strict=env.strict_plugins)


def test_environment_maps_onto_the_plugin_selection() -> None:
    assert read_environment({}).load_plugins is None and not read_environment({}).strict_plugins
    env = read_environment({"RSMIF_LOAD_PLUGINS": "Rsmif_Foo, rsmif.bar", "RSMIF_STRICT_PLUGINS": "1"})
    assert env.load_plugins == {"rsmif-foo", "rsmif-bar"} and env.strict_plugins
    assert read_environment({"WORLD_SIZE": "2"}).distributed_launch and not read_environment({}).distributed_launch


def test_misspelt_hook_is_an_error_at_load_time(site: Path) -> None:
    make_distribution(site, "rsmif-typo", "rsmif_typo", TYPO)
    with pytest.warns(PluginWarning, match="register_modles"):
        error = infos_by_name()["rsmif_typo"]["error"]
    assert "register_modles" in error and "unknown hook" in error


def test_a_name_clash_keeps_the_first_registration_and_names_both(site: Path) -> None:
    make_distribution(site, "rsmif-tinynet", "rsmif_tinynet", GOOD)
    make_distribution(site, "rsmif-clash", "rsmif_zclash", CLASH)
    with pytest.warns(PluginWarning) as caught:
        model = rsmif_core.create_model("tinynet", spectral_bands=4, guide_bands=1, ratio=4)
    assert type(model).__name__ == "TinyNet"  # the first registration stays active
    assert type(rsmif_core.create_model("pnn", spectral_bands=4, guide_bands=1, ratio=4)).__name__ == "PNN"  # built-ins first
    messages = " ".join(str(w.message) for w in caught)
    assert "rsmif-tinynet (plugin rsmif_tinynet) stays active" in messages and "rsmif-clash" in messages
    infos = infos_by_name()
    assert infos["rsmif_zclash"]["error"] is None and infos["rsmif_zclash"]["registered"] == {}
    assert any("rsmif (plugin rsmif) stays active" in c for c in infos["rsmif_zclash"]["clashes"])
    assert any("rsmif-clash" in c for c in infos["rsmif"]["clashes"])
    listing = CliRunner().invoke(cli, ["plugins"])
    assert listing.exit_code == 0 and "stays active" in listing.output


def test_unknown_name_suggests_close_matches(fresh_plugins: None) -> None:
    with pytest.raises(rsmif_core.RegistryError, match="Did you mean 'pnn'"):
        rsmif_core.create_model("pnm", spectral_bands=4, guide_bands=1, ratio=4)
    with pytest.raises(rsmif_core.RegistryError, match="unknown kind"):
        rsmif_core.available("modelz")


def test_help_imports_no_heavy_module() -> None:
    """``rsmif --help`` lists every command, plugin commands included, without importing torch, pydantic
    or the models (what makes it fast)."""
    code = ("import sys\nimport rsmif_core.cli as cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'pydantic', 'scipy', 'h5py', 'rsmif_ramsf.model') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Commands:" in done.stdout and "score" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"
