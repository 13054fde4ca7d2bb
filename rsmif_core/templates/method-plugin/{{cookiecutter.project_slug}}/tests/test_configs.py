"""Every shipped config is registered from inside the installed package as {{ cookiecutter.method_name }}:NAME and
is a valid RSMIF run file for this method: the sample ones (one per task) with their data, the collection ones
without (their data is downloaded separately)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rsmif_core import create_model, describe
from rsmif_core.config import load_config
from rsmif_core.testing import TASK_CASES, check_shipped_configs
from rsmif_core.types import TASKS

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }} import {{ cookiecutter.__class_name }}

FOLDER = Path({{ cookiecutter.package_name }}.__file__).parent / "configs"
NAMES = sorted(f"{{ cookiecutter.method_name }}:{path.stem}" for path in FOLDER.glob("*.yaml"))


def test_one_sample_config_per_task_is_registered() -> None:
    registered = {e.name for e in describe("configs") if e.plugin == "{{ cookiecutter.method_name }}"}
    assert registered == set(NAMES)
    for task in {{ cookiecutter.__class_name }}.tasks:
        assert f"{{ cookiecutter.method_name }}:{task}" in registered, f"configs/{task}.yaml is missing"
    assert set(check_shipped_configs("{{ cookiecutter.method_name }}")) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_config_is_valid(name: str) -> None:
    setting = name.partition(":")[2]
    cfg = load_config(name, check_paths=setting in TASKS)
    assert cfg.model.name == "{{ cookiecutter.method_name }}"
    assert cfg.eval.sensor is None  # the sensor and its MTF gains come from the data
    case = next(c for c in TASK_CASES.values() if setting == c.task or setting.startswith(c.task + "-"))
    model = create_model(cfg.model.name, spectral_bands=case.spectral_bands, guide_bands=case.guide_bands,
                         ratio=case.ratio, **cfg.model.args)
    assert isinstance(model, {{ cookiecutter.__class_name }})
