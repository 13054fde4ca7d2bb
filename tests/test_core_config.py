"""Run-file composition, overrides and validation errors (each names file, dotted key, found, expected)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rsmif_core.cli import cli
from rsmif_core.config import ConfigError, load_config

BASE = """
model:
  name: pnn
data:
  test:
    name: {dataset}
    args: {{}}
loss:
  name: l1
trainer:
  epochs: 1
"""


@pytest.fixture
def cfg_file(tmp_path: Path) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  name: pnn\ntrainer:\n  epochs: 1\n  output_dir: out\n", encoding="utf-8")
    return path


def test_defaults_and_overrides(cfg_file: Path) -> None:
    cfg = load_config(cfg_file, ["trainer.epochs=3", "optim.lr=1e-3", "model.args.channels=[16,8]", "optim.betas=[0.5,0.9]"])
    assert cfg.trainer.epochs == 3 and cfg.optim.lr == 1e-3
    assert cfg.model.args == {"channels": [16, 8]} and cfg.optim.betas == (0.5, 0.9)
    assert cfg.schedule.milestones == [100] and cfg.schedule.gamma == 0.9


def error_of(cfg_file: Path, overrides: list[str]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(cfg_file, overrides)
    return info.value


def test_unknown_key(cfg_file: Path) -> None:
    err = error_of(cfg_file, ["trainer.epochz=3"])
    assert err.key == "trainer.epochz" and str(cfg_file) in str(err)
    assert "epochs" in err.expected and "max_steps" in err.expected


def test_wrong_type(cfg_file: Path) -> None:
    err = error_of(cfg_file, ["trainer.epochs=many"])
    assert err.key == "trainer.epochs" and err.found == "many" and "integer" in err.expected


def test_bad_choice(cfg_file: Path) -> None:
    err = error_of(cfg_file, ["optim.name=adamax"])
    assert err.key == "optim.name" and "adam" in err.expected and "rmsprop" in err.expected


def test_unknown_registered_name_with_suggestion(cfg_file: Path) -> None:
    err = error_of(cfg_file, ["model.name=pnm"])
    assert err.key == "model.name" and "Did you mean 'pnn'" in str(err)


def test_unknown_model_argument(cfg_file: Path) -> None:
    err = error_of(cfg_file, ["model.args.width=3"])
    assert err.key == "model.args.width" and "channels" in err.expected


def test_band_counts_come_from_the_data(cfg_file: Path) -> None:
    err = error_of(cfg_file, ["model.args.spectral_bands=8"])
    assert err.key == "model.args.spectral_bands" and "taken from the data" in err.expected


def test_missing_file(tmp_path: Path) -> None:
    err = error_of(tmp_path / "nope.yaml", [])
    assert "no such file" in str(err)


def test_missing_data_file(tmp_path: Path) -> None:
    from rsmif_core.config.load import _Checker
    from rsmif_core.plugins.registry import Entry

    def reader(path: str, split: str = "train") -> None: ...

    entry = Entry("datasets", "reader", reader, "tests", "tests", "0")
    check = _Checker(check_paths=True)
    check.args("data.train.args", entry, {"path": str(tmp_path / "missing.h5")})
    assert [p.text() for p in check.problems] == [f"data.train.args.path: found '{tmp_path / 'missing.h5'}'; "
                                                  "expected an existing file or folder"]
    unchecked = _Checker(check_paths=False)
    unchecked.args("data.train.args", entry, {"path": str(tmp_path / "missing.h5")})
    assert not unchecked.problems
    unchecked.args("data.train.args", entry, {"split": "val"})
    assert [p.text() for p in unchecked.problems] == [
        "data.train.args.path: found <missing>; expected this argument of dataset 'reader' to be set"]


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model: [unclosed\n", encoding="utf-8")
    assert "valid YAML" in str(error_of(path, []))


def test_cli_reports_one_message_and_status_2(cfg_file: Path) -> None:
    result = CliRunner().invoke(cli, ["config", "show", str(cfg_file), "trainer.epochz=3"])
    assert result.exit_code == 2
    assert "trainer.epochz" in result.output and "Traceback" not in result.output


def test_config_show_prints_resolved_config(cfg_file: Path) -> None:
    result = CliRunner().invoke(cli, ["config", "show", str(cfg_file), "trainer.epochs=7"])
    assert result.exit_code == 0, result.output
    assert "epochs: 7" in result.output and "milestones:" in result.output
