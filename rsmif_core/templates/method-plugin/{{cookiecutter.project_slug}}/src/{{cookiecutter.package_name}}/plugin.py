"""Registers {{ cookiecutter.__class_name }} with RSMIF (entry point ``rsmif: {{ cookiecutter.method_name }}`` in pyproject.toml).

Models and losses are imported inside the hooks, so listing RSMIF's commands stays fast.
"""

from __future__ import annotations

import rsmif_core


@rsmif_core.hookimpl
def register_models(register: rsmif_core.Register) -> None:
    from {{ cookiecutter.package_name }}.model import {{ cookiecutter.__class_name }}

    register("{{ cookiecutter.method_name }}", {{ cookiecutter.__class_name }}, description={{ cookiecutter.description | tojson }})
{% if cookiecutter.default_loss == "own" %}

@rsmif_core.hookimpl
def register_losses(register: rsmif_core.Register) -> None:
    from {{ cookiecutter.package_name }}.losses import {{ cookiecutter.__class_name }}Loss

    register("{{ cookiecutter.__loss_name }}", {{ cookiecutter.__class_name }}Loss, description="L1 + spectral-direction term")
{% endif -%}
