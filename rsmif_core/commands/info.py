"""``rsmif plugins`` and ``rsmif list``: what is installed and registered."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from rsmif_core.plugins.registry import KINDS

LISTABLE = [k for k in KINDS if k != "commands"]


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_cmd(as_json: bool) -> None:
    """List loaded plugins, what each registered, name clashes, and the error of any that failed."""
    from rsmif_core.plugins.manager import plugin_infos

    infos = plugin_infos()
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in infos], indent=2))
        return
    table = Table(title="rsmif plugins")
    for col in ("plugin", "distribution", "version", "registered", "problems"):
        table.add_column(col, overflow="fold")
    for info in infos:
        registered = "; ".join(f"{k}: {', '.join(v)}" for k, v in info.registered.items() if v)
        problems = "; ".join([*([info.error] if info.error else []), *info.clashes])
        table.add_row(info.name, info.distribution, info.version, registered or "-", problems)
    Console().print(table)


@click.command("list")
@click.argument("kind", type=click.Choice(LISTABLE))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(kind: str, as_json: bool) -> None:
    """List registered models, datasets, losses, metrics or configs."""
    from rsmif_core.plugins.factory import describe

    rows: list[dict[str, Any]] = [
        {"name": e.name, "plugin": e.plugin, "distribution": e.distribution, "description": e.description,
         "tasks": list(e.tasks)}
        for e in describe(kind)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"registered {kind}")
    for col in ("name", "plugin", "description", "tasks"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], f"{r['plugin']} ({r['distribution']})", r["description"], ", ".join(r["tasks"]) or "-")
    Console().print(table)
