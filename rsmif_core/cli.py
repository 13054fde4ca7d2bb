"""The ``rsmif`` command line. Commands from plugins are added through the ``register_commands`` hook."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from rsmif_core import __version__
from rsmif_core.config import ConfigError, load_config, to_yaml
from rsmif_core.registry import KINDS

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print one clear message (no traceback) and exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def load_run_config(path: str, overrides: tuple[str, ...]) -> Any:
    try:
        return load_config(path, overrides)
    except ConfigError as exc:
        fail(str(exc))


class PluginGroup(click.Group):
    """A click group that adds plugin commands when it is first asked for its commands."""

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        from rsmif_core.plugins.manager import registry

        for name in registry().names("commands"):
            entry = registry().entries["commands"].get(name)
            if entry is not None and name not in self.commands and isinstance(entry.factory, click.Command):
                self.add_command(entry.factory, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._add_plugin_commands()
        return super().get_command(ctx, cmd_name)


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rsmif")
def cli() -> None:
    """RSMIF: remote sensing multimodal image fusion (pansharpening, hyperspectral, SAR-optical, MS-HS)."""


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_cmd(as_json: bool) -> None:
    """List loaded plugins, what each registered, and the error of any that failed."""
    from rsmif_core.plugins.manager import plugin_infos

    infos = plugin_infos()
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in infos], indent=2))
        return
    table = Table(title="rsmif plugins")
    for col in ("plugin", "distribution", "version", "registered", "error"):
        table.add_column(col, overflow="fold")
    for info in infos:
        registered = "; ".join(f"{k}: {', '.join(v)}" for k, v in info.registered.items() if v)
        table.add_row(info.name, info.distribution, info.version, registered or "-", info.error or "")
    console.print(table)


@cli.command("list")
@click.argument("kind", type=click.Choice([k for k in KINDS if k != "commands"]))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(kind: str, as_json: bool) -> None:
    """List registered models, datasets, losses or metrics."""
    from rsmif_core.factory import describe

    entries = describe(kind)
    rows: list[dict[str, Any]] = [
        {"name": e.name, "plugin": e.plugin, "distribution": e.distribution, "description": e.description,
         "tasks": list(e.tasks)}
        for e in entries
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"registered {kind}")
    for col in ("name", "plugin", "description", "tasks"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], f"{r['plugin']} ({r['distribution']})", r["description"], ", ".join(r["tasks"]) or "-")
    console.print(table)


@cli.group("config")
def config_group() -> None:
    """Inspect run configurations."""


@config_group.command("show")
@click.argument("path", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1)
def config_show(path: str, overrides: tuple[str, ...]) -> None:
    """Print the resolved, validated configuration."""
    cfg = load_run_config(path, overrides)
    click.echo(to_yaml(cfg), nl=False)


@cli.command("run")
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1)
@click.option("--resume", is_flag=True, help="Continue from the latest checkpoint in trainer.output_dir (mid-epoch).")
def run_cmd(config: str, overrides: tuple[str, ...], resume: bool) -> None:
    """Train CONFIG (YAML, with key=value OVERRIDES), then test on data.test / data.test_fr when set.

    Exits 130 on Ctrl-C and 143 on SIGTERM after writing a checkpoint.
    """
    from pathlib import Path

    from rsmif_core.evaluation.assess import record_in_run, run_test
    from rsmif_core.training import Trainer, TrainingError

    cfg = load_run_config(config, overrides)
    try:
        trainer = Trainer(cfg, resume=resume, console=console)
    except TrainingError as exc:
        fail(exc.message, exc.exit_code)
    try:
        result = trainer.fit()
        if result.exit_code:
            sys.exit(result.exit_code)
        run_dir = Path(cfg.trainer.output_dir)
        for kind, section in (("rr", cfg.data.test), ("fr", cfg.data.test_fr)):
            if section is not None:
                report = run_test(cfg, run_dir, "rr" if kind == "rr" else "fr", accelerator=trainer.accelerator, console=console)
                record_in_run(run_dir, report, trainer.accelerator.is_main_process)
    except TrainingError as exc:
        fail(exc.message, exc.exit_code)
    finally:
        trainer.close()


@cli.command("test")
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1)
@click.option(
    "--checkpoint",
    required=True,
    type=click.Path(),
    help="A run folder, a checkpoint folder, a model.safetensors file or an authors' .pth state_dict.",
)
@click.option(
    "--type",
    "kind",
    type=click.Choice(["rr", "fr"]),
    default="rr",
    show_default=True,
    help="rr: reduced resolution, reference metrics; fr: full resolution, no-reference metrics.",
)
@click.option("--save", type=click.Choice(["mat", "tif"]), default=None, help="Also write each fused image.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Output folder [default: <trainer.output_dir>/test_<type>].")
def test_cmd(config: str, overrides: tuple[str, ...], checkpoint: str, kind: str, save: str | None, out: str | None) -> None:
    """Score a trained model on the test split, one image at a time: mean ± std table, CSV/JSON rows."""
    from pathlib import Path

    from rsmif_core.evaluation.assess import run_test
    from rsmif_core.training import TrainingError

    cfg = load_run_config(config, overrides)
    try:
        run_test(
            cfg,
            Path(checkpoint),
            "rr" if kind == "rr" else "fr",
            save="mat" if save == "mat" else "tif" if save == "tif" else None,
            out_dir=Path(out) if out else None,
            console=console,
        )
    except TrainingError as exc:
        fail(exc.message, exc.exit_code)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="rsmif")


if __name__ == "__main__":  # pragma: no cover
    main()
