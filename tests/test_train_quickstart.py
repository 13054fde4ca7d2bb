"""The README's first command: configs/quickstart.yaml trains on the built-in sample scene and prints rr/fr tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rsmif_core.cli import cli
from rsmif_core.config import load_config
from rsmif_core.plugins.manager import PluginSelection, registry, reset_plugins

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"


@pytest.fixture
def builtins_only(fresh_plugins: None) -> None:
    reset_plugins(PluginSelection(only=frozenset()))


def test_quickstart_config_is_valid(builtins_only: None) -> None:
    cfg = load_config(QUICKSTART)
    assert cfg.model.name == "pnn" and cfg.data.train is not None and cfg.data.train.name == "sample"
    assert cfg.data.test is not None and cfg.data.test_fr is not None


@pytest.mark.slow
def test_quickstart_trains_then_prints_rr_and_fr_tables(builtins_only: None, tmp_path: Path) -> None:
    needed = {"sam", "ergas", "psnr", "q2n", "d_lambda_k", "d_s", "hqnr"}
    missing = needed - set(registry().names("metrics"))
    if missing:
        pytest.skip(f"metrics not registered yet: {sorted(missing)}")
    run_dir = tmp_path / "qs"
    overrides = [f"trainer.output_dir={run_dir}", "trainer.epochs=1", "trainer.max_steps=4", "trainer.val_every=2",
                 "trainer.checkpoint_every=2", "trainer.log_every=2"]
    result = CliRunner().invoke(cli, ["run", str(QUICKSTART), *overrides], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "reduced resolution" in out and "full resolution" in out and "±" in out
    for name in ("sam", "ergas", "q2n", "psnr", "d_lambda_k", "hqnr"):
        assert name in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["best_metric"] == "psnr" and metrics["best_mode"] == "max"  # psnr: higher is better
    rows = list(csv.DictReader((run_dir / "test_fr" / "per_image.csv").open()))
    assert len(rows) == 3 and all(0.0 <= float(r["hqnr"]) <= 1.0 for r in rows)


@pytest.mark.parametrize("model", ["pnn", "ramsf", "cf2n", "mmapp", "rsanet"])
def test_a_misspelt_model_argument_stops_the_run_before_any_work(model: str, fresh_plugins: None,
                                                                 tmp_path: Path) -> None:
    if model not in registry().names("models"):
        pytest.skip(f"{model} is not installed")
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(QUICKSTART), f"model.name={model}", "model.args.no_such_arg=1",
                                      f"trainer.output_dir={run_dir}"])
    assert result.exit_code == 2, result.output
    assert f"model.args.no_such_arg: found 1; expected an argument of model {model!r}" in result.output
    assert "It accepts:" in result.output and "Traceback" not in result.output
    assert not run_dir.exists()
