"""``rsmif config``: inspect run configurations."""

from __future__ import annotations

import click


@click.group("config")
def config_group() -> None:
    """Inspect run configurations."""


@config_group.command("show")
@click.argument("path")
@click.argument("overrides", nargs=-1)
def config_show(path: str, overrides: tuple[str, ...]) -> None:
    """Print the resolved, validated configuration."""
    from rsmif_core.config import load_config, to_yaml

    click.echo(to_yaml(load_config(path, overrides)), nl=False)
