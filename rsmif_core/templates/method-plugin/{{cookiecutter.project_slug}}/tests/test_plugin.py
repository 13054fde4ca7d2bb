"""RSMIF finds the installed plugin through its entry point (not merely: the module imports)."""

from __future__ import annotations

from rsmif_core import available, create_model
from rsmif_core.testing import check_plugin_discovery

from {{ cookiecutter.package_name }} import {{ cookiecutter.__class_name }}


def test_listed_by_rsmif_plugins() -> None:
    check_plugin_discovery(
        "{{ cookiecutter.project_slug }}",
        models=["{{ cookiecutter.method_name }}"],
{%- if cookiecutter.default_loss == "own" %}
        losses=["{{ cookiecutter.__loss_name }}"],
{%- endif %}
    )


def test_built_by_name() -> None:
    assert "{{ cookiecutter.method_name }}" in available("models")
    model = create_model("{{ cookiecutter.method_name }}", spectral_bands=8, guide_bands=1, ratio=4)
    assert isinstance(model, {{ cookiecutter.__class_name }})
