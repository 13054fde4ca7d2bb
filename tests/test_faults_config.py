"""Config and command-line mistakes: one clear message each, every problem at once, the right exit status,
no traceback, and nothing on disk touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rsmif_core.cli import cli
from rsmif_core.config import ConfigError, load_config

RUN = "model: {name: pnn}\ntrainer: {epochs: 1, output_dir: out}\n"


def invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_every_validation_problem_is_reported_at_once(tmp_path: Path) -> None:
    cfg = write(tmp_path / "run.yaml", "model: {name: pnn, args: {channelz: [8, 8]}}\n"
                                       "optim: {lr: .inf, nam: adam}\ntrainer: {epochz: 3}\n")
    code, out = invoke(["config", "show", str(cfg)])
    assert code == 2 and "Traceback" not in out
    assert "3 problems" in out
    assert "optim.lr: found inf" in out and "optim.nam: found 'adam'" in out and "Did you mean 'name'" in out
    assert "trainer.epochz" in out and "Did you mean 'epochs'" in out
    with pytest.raises(ConfigError) as info:  # the registry checks also report together
        load_config(write(tmp_path / "reg.yaml", "model: {name: pnn, args: {channelz: 1, residul: true}}\n"
                                                 "loss: {name: l2}\n"))
    assert len(info.value.problems) == 3
    assert {p.key for p in info.value.problems} == {"model.args.channelz", "model.args.residul", "loss.name"}


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "0", "-1e-3"])
def test_learning_rate_must_be_finite_and_positive(tmp_path: Path, value: str) -> None:
    cfg = write(tmp_path / "run.yaml", RUN + f"optim: {{lr: {value}}}\n")
    code, out = invoke(["config", "show", str(cfg)])
    assert code == 2 and "optim.lr" in out


def test_non_utf8_and_empty_files_are_named(tmp_path: Path) -> None:
    latin = write(tmp_path / "latin.yaml", "model: {name: pnn}\n# r\xe9sum\xe9\n".encode("latin-1"))
    code, out = invoke(["config", "show", str(latin)])
    assert code == 2 and str(latin) in out.replace("\n", "") and "not UTF-8" in out and "save the file as UTF-8" in out
    empty = write(tmp_path / "empty.yaml", "")
    code, out = invoke(["run", str(empty)])
    assert code == 2 and str(empty) in out.replace("\n", "") and "an empty file" in out


def test_hydra_add_force_and_delete_overrides(tmp_path: Path) -> None:
    cfg = write(tmp_path / "run.yaml", RUN + "eval: {border: 3}\n")
    loaded = load_config(cfg, ["~eval.border", "+model.args.residual=false", "++trainer.seed=7", "trainer.log_every=5"])
    assert loaded.eval.border == 0 and loaded.model.args == {"residual": False}
    assert loaded.trainer.seed == 7 and loaded.trainer.log_every == 5
    with pytest.raises(ConfigError, match="valid overrides"):
        load_config(cfg, ["+trainer.epochs=2"])  # '+' adds a key the file already has: Hydra refuses
    with pytest.raises(ConfigError, match="an override of the form key=value"):
        load_config(cfg, ["trainer.epochs"])


def test_a_dataset_without_its_required_path_fails_at_config_time(tmp_path: Path) -> None:
    cfg = write(tmp_path / "run.yaml", RUN + "data: {test: {name: pancollection, args: {split: test}}}\n")
    code, out = invoke(["config", "show", str(cfg)])
    assert code == 2
    assert "data.test.args.path: found <missing>; expected this argument of dataset 'pancollection' to be set" in out


@pytest.mark.parametrize("target", ["file", "proc"])
def test_an_output_dir_that_cannot_be_a_folder_is_a_usage_error(tmp_path: Path, target: str) -> None:
    if target == "file":
        output = write(tmp_path / "taken", "a file the user had\n")
        before = output.read_bytes()
    else:
        output = Path("/proc/rsmif-run")
    cfg = write(tmp_path / "run.yaml", "model: {name: pnn}\n"
                "data: {train: {name: sample, args: {task: pansharpening, split: train}}}\n"
                f"trainer: {{max_steps: 1, output_dir: '{output}'}}\n")
    code, out = invoke(["run", str(cfg)])
    assert code == 2, out
    assert "trainer.output_dir" in out and str(output) in out.replace("\n", "") and "Traceback" not in out
    if target == "file":
        assert output.read_bytes() == before
