"""``rsmif new method NAME``: generate a method plugin from the shipped cookiecutter template."""

from __future__ import annotations

from pathlib import Path

import click

from rsmif_core.scaffold import LICENSES, LOSS_CHOICES, generate_method_plugin
from rsmif_core.tasks import TASKS


@click.group("new")
def new_group() -> None:
    """Start a new plugin from a template."""


@new_group.command("method")
@click.argument("name")
@click.option("--output-dir", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder in which the plugin folder rsmif-NAME is created.")
@click.option("--no-input", is_flag=True, help="Do not prompt; use the defaults and the options given.")
@click.option("--description", help="One-line description of the method.")
@click.option("--author", "author_name", help="Author name.")
@click.option("--email", "author_email", help="Author e-mail.")
@click.option("--github-username", help="GitHub user or organisation (project URLs).")
@click.option("--license", "license_", type=click.Choice(LICENSES), help="License of the plugin.")
@click.option("--tasks", help=f"Comma-separated tasks the method supports (default: all of {', '.join(TASKS)}).")
@click.option("--loss", "default_loss", type=click.Choice(LOSS_CHOICES),
              help="Loss of the example configs: 'own' (registered by the plugin) or a built-in.")
def new_method(
    name: str,
    output_dir: Path,
    no_input: bool,
    license_: str | None,
    **context: str | None,
) -> None:
    """Generate an installable method plugin NAME (model, loss, configs, tests, README, CI)."""
    extra = {k: v for k, v in context.items() if v is not None}
    if license_ is not None:
        extra["license"] = license_
    project = generate_method_plugin(name, output_dir, no_input=no_input, extra_context=extra)
    click.echo(f"created {project}")
    click.echo("next:")
    click.echo(f"  pip install -e {project}")
    click.echo(f"  pytest {project / 'tests'}")
    samples = [project / "configs" / f"{task}-sample.yaml" for task in TASKS]
    for config in samples:
        if config.is_file():
            click.echo(f"  rsmif run {config}")
            break
