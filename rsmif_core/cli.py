"""The ``rsmif`` command line: the built-in commands, plugin commands, and the one place errors are printed.

Code below raises errors from :mod:`rsmif_core.errors`; here each becomes one message on stderr and the
exit status it carries (2: usage or input, 1: a failed run, 3: diverged training). An unexpected error
prints one line too, unless ``--debug`` (or ``RSMIF_DEBUG=1``) asks for the traceback.
"""

from __future__ import annotations

import traceback
from typing import Any

import click
from rich.console import Console

from rsmif_core import __version__
from rsmif_core.config.environment import read_environment
from rsmif_core.errors import RsmifError

err_console = Console(stderr=True)


def print_error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)


def _report_plugin_problem(message: str) -> None:
    err_console.print(f"[yellow]rsmif: warning:[/] {message}", highlight=False, soft_wrap=True)


def _configure_plugins() -> None:
    from rsmif_core.plugins.manager import PluginSelection, reset_plugins

    env = read_environment()
    reset_plugins(PluginSelection(only=env.load_plugins, strict=env.strict_plugins, report=_report_plugin_problem))


class RsmifGroup(click.Group):
    """The root group: built-in commands, plugin commands on first need, and the error boundary."""

    _added = False

    def _add_commands(self) -> None:
        if self._added:
            return
        self._added = True
        from rsmif_core.commands import builtin_commands

        for command in builtin_commands():
            self.add_command(command)
        from rsmif_core.plugins.manager import registry

        for entry in registry().entries("commands"):
            if entry.name not in self.commands and isinstance(entry.factory, click.Command):
                self.add_command(entry.factory, entry.name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._add_commands()
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug")) or read_environment().debug
        try:
            return super().invoke(ctx)
        except RsmifError as exc:
            if debug:
                traceback.print_exc()
            print_error(exc.message)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            print_error("interrupted")
            ctx.exit(130)
        except Exception as exc:  # a bug, or a failure nobody turned into a message yet
            if debug:
                traceback.print_exc()
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            print_error(f"unexpected {type(exc).__name__}: {detail} (run with --debug for the traceback, and "
                        "please report it)")
            ctx.exit(1)


@click.group(cls=RsmifGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rsmif")
@click.option("--debug", is_flag=True, help="Print the traceback of an unexpected error.")
def cli(debug: bool) -> None:
    """RSMIF: remote sensing multimodal image fusion (pansharpening, hyperspectral, SAR-optical, MS-HS)."""


def main(argv: list[str] | None = None) -> None:
    _configure_plugins()
    cli.main(args=argv, prog_name="rsmif")


if __name__ == "__main__":  # pragma: no cover
    main()

