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
    for path in sorted((Path(__file__).parent / "configs").glob("*.yaml")):
        # the file's first line says what it runs: "# {{ cookiecutter.method_name }}: pansharpening on ..."
        first = path.read_text(encoding="utf-8").partition("\n")[0]
        register(f"{{ cookiecutter.method_name }}:{path.stem}", path, description=first.lstrip("# ").partition(": ")[2])
{% if cookiecutter.default_loss == "own" %}

@rsmif_core.hookimpl
def register_losses(register: rsmif_core.Register) -> None:
    from {{ cookiecutter.package_name }}.losses import {{ cookiecutter.__class_name }}Loss

    register("{{ cookiecutter.__loss_name }}", {{ cookiecutter.__class_name }}Loss, description="L1 + spectral-direction term")
{% endif -%}
