"""Shipped run configurations: registration, `rsmif config list/show/copy`, the missing-data message, and
PNN's own configs training end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from _helpers import make_distribution
from click.testing import CliRunner

from rsmif_core.cli import cli
from rsmif_core.config import ConfigError, load_config
from rsmif_core.plugins.manager import PluginSelection, PluginWarning, plugin_infos, registry, reset_plugins
from rsmif_core.testing import check_configs_train, check_shipped_configs
from rsmif_core.types import TASKS

SETTINGS = {*TASKS, "pansharpening-wv3", "pansharpening-qb", "pansharpening-gf2", "hyperspectral-pavia",
            "sar-optical-sen12mscr", "ms-hs-cave"}
METHOD_PLUGINS = ("pnn", "ramsf", "cf2n", "mmapp", "rsanet")


@pytest.fixture
def builtins_only(fresh_plugins: None) -> None:
    reset_plugins(PluginSelection(only=frozenset()))


def test_pnn_ships_a_config_per_task_and_collection(builtins_only: None) -> None:
    entries = {e.name: e for e in registry().entries("configs")}
    assert set(entries) == {f"pnn:{s}" for s in SETTINGS}
    for name, entry in entries.items():
        assert entry.plugin == "rsmif" and entry.distribution == "rsmif"
        assert Path(str(entry.factory)).is_file()
        setting = name.partition(":")[2]
        assert entry.tasks == (next(t for t in TASKS if setting == t or setting.startswith(t + "-")),)
        assert entry.description and "Path" not in entry.description


def test_pnn_configs_validate_with_the_papers_recipe(builtins_only: None) -> None:
    configs = check_shipped_configs("rsmif")
    assert len(configs) == len(SETTINGS)
    for name, cfg in configs.items():
        assert cfg.model.name == "pnn" and cfg.model.args == {"channels": [64, 32], "residual": True}, name
        assert (cfg.optim.name, cfg.optim.momentum, cfg.loss.name, cfg.schedule.name) == ("sgd", 0.9, "mse", "none")
        assert cfg.data.train is not None and cfg.data.train.batch_size == 128, name
        assert cfg.trainer.seed == 42
        sample = name.partition(":")[2] in TASKS
        assert (cfg.data.train.name == "sample") == sample, name
        assert (cfg.trainer.max_steps == 1_120_000) == (not sample), name


def test_every_installed_method_plugin_ships_every_setting() -> None:
    names = set(registry().names("configs"))
    installed = {n.partition(":")[0] for n in names}
    for plugin in set(METHOD_PLUGINS) & installed:
        assert {n for n in names if n.startswith(plugin + ":")} == {f"{plugin}:{s}" for s in SETTINGS}, plugin


@pytest.mark.parametrize(("name", "source"), [
    ("pnn:pansharpening-wv3", "https://github.com/liangjiandeng/PanCollection"),
    ("pnn:hyperspectral-pavia", "https://github.com/liangjiandeng/HyperPanCollection"),
    ("pnn:sar-optical-sen12mscr", "https://patricktum.github.io/cloud_removal/sen12mscr/"),
    ("pnn:ms-hs-cave", "https://www.cs.columbia.edu/CAVE/databases/multispectral/"),
])
def test_missing_collection_data_says_where_it_comes_from(builtins_only: None, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> None:
    monkeypatch.chdir(tmp_path)  # the configs' data paths are relative: nothing there
    with pytest.raises(ConfigError) as caught:
        load_config(name)
    assert caught.value.problems and all(p.key.startswith("data.") for p in caught.value.problems)
    assert all(p.expected.endswith(f"data: get it from {source})") for p in caught.value.problems)
    assert caught.value.message.startswith(f"{name} (")  # the shipped name, then its file
    load_config(name, check_paths=False)  # everything else about it is valid


def test_a_dataset_without_a_source_keeps_the_plain_message(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"model": {"name": "pnn"}, "data": {"test": {
        "name": "sample", "args": {"task": "pansharpening", "split": "test"}}}, "eval": {"protocol": "toolbox"}}))
    load_config(cfg)
    missing = tmp_path / "nowhere.h5"
    cfg.write_text(yaml.safe_dump({"data": {"test": {"name": "pancollection", "args": {"path": str(missing)}}}}))
    with pytest.raises(ConfigError, match="get it from https://github.com/liangjiandeng/PanCollection"):
        load_config(cfg)


def test_config_list_shows_every_shipped_config() -> None:
    result = CliRunner().invoke(cli, ["config", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert set(rows) == set(registry().names("configs"))
    assert rows["pnn:pansharpening"]["plugin"] == "rsmif" and rows["pnn:pansharpening"]["task"] == "pansharpening"
    assert rows["pnn:ms-hs-cave"]["task"] == "ms-hs" and "CAVE" in rows["pnn:ms-hs-cave"]["description"]
    assert all(Path(r["path"]).is_file() for r in rows.values())
    table = CliRunner().invoke(cli, ["config", "list"])
    assert table.exit_code == 0 and "pnn:sar-optical-sen12mscr" in table.output


def test_config_show_resolves_a_shipped_name_with_overrides() -> None:
    result = CliRunner().invoke(cli, ["config", "show", "pnn:hyperspectral", "trainer.epochs=3"])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert shown["trainer"]["epochs"] == 3 and shown["data"]["train"]["args"]["task"] == "hyperspectral"


def test_config_copy_writes_an_editable_copy_and_refuses_to_replace_one(tmp_path: Path) -> None:
    target = tmp_path / "mine.yaml"
    result = CliRunner().invoke(cli, ["config", "copy", "pnn:pansharpening", str(target)])
    assert result.exit_code == 0, result.output
    shipped = Path(str(registry().get("configs", "pnn:pansharpening").factory)).read_text(encoding="utf-8")
    copied = target.read_text(encoding="utf-8")
    assert copied.startswith("# A copy of the shipped config pnn:pansharpening") and copied.endswith(shipped)
    assert load_config(target, ["trainer.epochs=1"]).trainer.epochs == 1

    target.write_text("mine\n", encoding="utf-8")
    refused = CliRunner().invoke(cli, ["config", "copy", "pnn:ms-hs", str(target)])
    assert refused.exit_code == 2 and "already exists; pass --overwrite" in refused.output
    assert target.read_text(encoding="utf-8") == "mine\n"
    replaced = CliRunner().invoke(cli, ["config", "copy", "pnn:ms-hs", str(target), "--overwrite"])
    assert replaced.exit_code == 0 and "task: ms-hs" in target.read_text(encoding="utf-8")

    into_folder = CliRunner().invoke(cli, ["config", "copy", "pnn:sar-optical", str(tmp_path)])
    assert into_folder.exit_code == 0 and (tmp_path / "pnn-sar-optical.yaml").is_file()


@pytest.mark.parametrize("command", [["config", "copy"], ["config", "show"], ["run"]])
def test_an_unknown_config_name_gets_a_did_you_mean(tmp_path: Path, command: list[str]) -> None:
    extra = [str(tmp_path / "x.yaml")] if command[-1] == "copy" else []
    for name in ("pnn:pansharpenin", "pnn-pansharpening"):
        result = CliRunner().invoke(cli, [*command, name, *extra])
        assert result.exit_code == 2, result.output
        assert "Did you mean 'pnn:pansharpening'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.yaml").exists()


BAD_CONFIGS = """
from pathlib import Path

import rsmif_core


@rsmif_core.hookimpl
def register_configs(register):
    folder = Path(__file__).parent
    register("badcfg:pansharpening", folder / "missing.yaml")
    register("no-colon", folder / "badcfg_plugin.py")
    register("badcfg:own", folder / "badcfg_plugin.py", description="a real file")


@rsmif_core.hookimpl
def register_models(register):
    from rsmif_core.models.baselines import EXP

    register("badcfg_model", EXP)
"""


def test_a_config_registered_wrongly_is_reported_and_the_plugin_keeps_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_plugins: None
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    make_distribution(tmp_path, "rsmif-badcfg", "badcfg_plugin", BAD_CONFIGS)
    with pytest.warns(PluginWarning) as warned:
        names = registry().names("configs")
    messages = " ".join(str(w.message) for w in warned)
    assert "'badcfg:pansharpening' not registered: its file" in messages and "package data" in messages
    assert "'no-colon' not registered: a shipped config is named PLUGIN:TASK" in messages
    assert "badcfg:own" in names and "badcfg:pansharpening" not in names and "no-colon" not in names
    info = {i.name: i for i in plugin_infos()}["badcfg_plugin"]
    assert info.error is None and info.registered["models"] == ["badcfg_model"]
    assert registry().get("configs", "badcfg:own").tasks == ()


@pytest.mark.slow
def test_pnn_sample_configs_train_and_test_without_a_warning(tmp_path: Path) -> None:
    check_configs_train([f"pnn:{task}" for task in TASKS], tmp_path, "runtime.threads=1")
