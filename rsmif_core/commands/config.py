"""``rsmif config``: list, show and copy run configurations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.group("config")
def config_group() -> None:
    """List, show and copy run configurations."""


@config_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def config_list(as_json: bool) -> None:
    """Every run configuration the installed plugins ship (use a NAME wherever a config file is accepted)."""
    from rsmif_core.plugins.factory import describe

    rows: list[dict[str, Any]] = [
        {"name": e.name, "plugin": e.plugin, "distribution": e.distribution, "version": e.version,
         "task": e.tasks[0] if e.tasks else None, "description": e.description, "path": str(e.factory)}
        for e in describe("configs")
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="shipped configs (rsmif run NAME, rsmif config copy NAME FILE)")
    table.add_column("name", no_wrap=True)  # copied into commands: never folded
    for col in ("plugin", "task", "description"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], f"{r['plugin']} ({r['distribution']})", r["task"] or "-", r["description"])
    Console().print(table)


@config_group.command("show")
@click.argument("config")
@click.argument("overrides", nargs=-1)
def config_show(config: str, overrides: tuple[str, ...]) -> None:
    """Print the resolved, validated configuration of CONFIG (a YAML file or a shipped config name)."""
    from rsmif_core.config import load_config, to_yaml

    click.echo(to_yaml(load_config(config, overrides)), nl=False)


@config_group.command("copy")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace FILE if it exists.")
def config_copy(name: str, file: Path, overwrite: bool) -> None:
    """Copy the shipped config NAME to FILE (a folder: FILE/PLUGIN-TASK.yaml) to edit it; run it with
    `rsmif run FILE`."""
    from rsmif_core.config import shipped_config
    from rsmif_core.errors import UsageError
    from rsmif_core.io import write_text

    entry = shipped_config(name)
    source = Path(str(entry.factory))
    target = file / f"{name.replace(':', '-')}.yaml" if file.is_dir() else file
    if target.is_dir():
        raise UsageError(f"{target} is a folder; give a file name (nothing was written)")
    if target.exists() and not overwrite:
        raise UsageError(f"{target} already exists; pass --overwrite to replace it (nothing was written)")
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"shipped config {name!r}: cannot read {source} ({exc})") from None
    header = f"# A copy of the shipped config {name} ({entry.distribution} {entry.version}); edit it freely.\n"
    write_text(target, header + text)
    click.echo(f"wrote {target}\nrun it with: rsmif run {target}")
