"""The shipped test configs (classical:TASK on the built-in sample, classical:TASK-COLLECTION on a public
collection): registered from inside the package, valid, in the wheel, and ``rsmif test NAME`` runs them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import rsmif_classical

from rsmif_core import describe
from rsmif_core.config import load_config
from rsmif_core.testing import check_commands_run_clean, check_shipped_configs, check_wheel_ships_configs

SETTINGS = ("pansharpening", "hyperspectral", "pansharpening-wv3", "pansharpening-qb", "pansharpening-gf2",
            "hyperspectral-pavia")


def test_every_config_is_shipped_inside_the_package() -> None:
    entries = [e for e in describe("configs") if e.plugin == "classical"]
    assert {e.name for e in entries} == {f"classical:{s}" for s in SETTINGS}
    package = Path(rsmif_classical.__file__).parent
    assert all(Path(str(e.factory)).parent == package / "configs" for e in entries)
    assert len(check_shipped_configs("classical")) == len(SETTINGS)


@pytest.mark.parametrize("setting", SETTINGS)
def test_config_holds_test_data_and_no_training(setting: str) -> None:
    sample = setting in ("pansharpening", "hyperspectral")
    cfg = load_config(f"classical:{setting}", check_paths=sample)
    assert cfg.data.train is None and cfg.data.test is not None
    assert (cfg.data.test.name == "sample") == sample
    assert (cfg.data.test_fr is not None) == setting.startswith("pansharpening")
    assert cfg.eval.sensor is None  # the sensor and its MTF gains come from the data


def test_rsmif_test_runs_a_shipped_config_by_name_without_a_warning(tmp_path: Path) -> None:
    rr, fr = tmp_path / "rr", tmp_path / "fr"
    check_commands_run_clean([
        ["test", "classical:pansharpening", "model.name=mtf-glp", "--type", "rr", "--out", str(rr)],
        ["test", "classical:pansharpening", "model.name=gs", "--type", "fr", "--out", str(fr)],
    ])
    with (rr / "per_image.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and all(0 < float(r["q2n"]) <= 1 for r in rows)
    assert (fr / "per_image.csv").is_file()


def test_the_wheel_ships_the_configs(tmp_path: Path) -> None:
    shipped = check_wheel_ships_configs(Path(__file__).resolve().parents[1], tmp_path)
    assert shipped == sorted(f"rsmif_classical/configs/{s}.yaml" for s in SETTINGS)
