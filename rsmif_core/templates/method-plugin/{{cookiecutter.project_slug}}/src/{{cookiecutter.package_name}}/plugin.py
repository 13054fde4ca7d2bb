"""What this plugin adds to RSMIF, found through the ``rsmif`` entry point in pyproject.toml."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rsmif_core import hookimpl

{% if cookiecutter.default_loss == "own" -%}
from {{ cookiecutter.package_name }}.losses import {{ cookiecutter.__class_name }}Loss
{% endif -%}
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.__class_name }}


@hookimpl
def register_models(register: Callable[..., Any]) -> None:
    register(
        "{{ cookiecutter.method_name }}",
        {{ cookiecutter.__class_name }},
        description={{ cookiecutter.description | tojson }},
        tasks={{ cookiecutter.__class_name }}.tasks,
    )
{% if cookiecutter.default_loss == "own" %}

@hookimpl
def register_losses(register: Callable[..., Any]) -> None:
    register("{{ cookiecutter.__loss_name }}", {{ cookiecutter.__class_name }}Loss, description="L1 + spectral-direction term")
{% endif -%}
