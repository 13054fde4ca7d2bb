"""Registers {{ cookiecutter.__class_name }} with RSMIF (entry point ``rsmif: {{ cookiecutter.method_name }}`` in pyproject.toml).

Models and losses are imported inside the hooks, so listing RSMIF's commands stays fast. Every file in
``configs/`` is registered as a shipped config named ``{{ cookiecutter.method_name }}:FILE`` (``rsmif config list``,
``rsmif run {{ cookiecutter.method_name }}:TASK``, ``rsmif config copy {{ cookiecutter.method_name }}:TASK my.yaml``).
"""

from __future__ import annotations

from pathlib import Path

import rsmif_core


@rsmif_core.hookimpl
def register_models(register: rsmif_core.Register) -> None:
    from {{ cookiecutter.package_name }}.model import {{ cookiecutter.__class_name }}

    register("{{ cookiecutter.method_name }}", {{ cookiecutter.__class_name }}, description={{ cookiecutter.description | tojson }})


@rsmif_core.hookimpl
def register_configs(register: rsmif_core.RegisterConfig) -> None:
    # each file's first line says what it runs: "# {{ cookiecutter.method_name }}: pansharpening on ..."
    rsmif_core.register_config_folder(register, "{{ cookiecutter.method_name }}", Path(__file__).parent / "configs")
{% if cookiecutter.default_loss == "own" %}

@rsmif_core.hookimpl
def register_losses(register: rsmif_core.Register) -> None:
    from {{ cookiecutter.package_name }}.losses import {{ cookiecutter.__class_name }}Loss

    register("{{ cookiecutter.__loss_name }}", {{ cookiecutter.__class_name }}Loss, description="L1 + spectral-direction term")
{% endif -%}
