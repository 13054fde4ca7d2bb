"""Every example config is a valid RSMIF run file for this method (data files need not exist)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rsmif_core import create_model
from rsmif_core.config import load_config
from rsmif_core.testing import TASK_CASES

from {{ cookiecutter.package_name }} import {{ cookiecutter.__class_name }}

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_one_sample_config_per_task() -> None:
    names = {path.name for path in CONFIGS}
    for task in {{ cookiecutter.__class_name }}.tasks:
        assert f"{task}-sample.yaml" in names, f"configs/{task}-sample.yaml is missing"


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_is_valid(path: Path) -> None:
    cfg = load_config(path, check_paths=False)
    assert cfg.model.name == "{{ cookiecutter.method_name }}"
    case = next(c for c in TASK_CASES.values() if path.name.startswith(c.task))
    model = create_model(cfg.model.name, spectral_bands=case.spectral_bands, guide_bands=case.guide_bands,
                         ratio=case.ratio, **cfg.model.args)
    assert isinstance(model, {{ cookiecutter.__class_name }})
