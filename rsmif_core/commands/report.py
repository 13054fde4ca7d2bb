"""``rsmif report``: the tables, plots, visual comparison and HTML page of a paper, from ``rsmif test`` folders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from rsmif_core.errors import UsageError

if TYPE_CHECKING:
    from rsmif_core.evaluation.comparison.tables import ComparisonTable


def _triple(text: str | None, option: str, what: str) -> tuple[int, int, int] | None:
    """``"a,b,c"`` as three non-negative integers; a usage error naming the option otherwise."""
    if text is None:
        return None
    try:
        a, b, c = (int(p.strip()) for p in text.split(","))
    except ValueError:
        raise UsageError(f"{option} {text}: expected {what}, three non-negative integers separated by commas") from None
    if min(a, b, c) < 0:
        raise UsageError(f"{option} {text}: expected {what}, three non-negative integers separated by commas")
    return a, b, c


def _print_table(table: ComparisonTable) -> None:
    from rich.console import Console
    from rich.table import Table

    from rsmif_core.evaluation.comparison.tables import BEST, SECOND

    shown = Table(title=table.title)
    shown.add_column("method")
    for metric in table.metrics:
        shown.add_column(table.label(metric), justify="right", no_wrap=True)
    for method in table.methods:
        cells = []
        for metric in table.metrics:
            cell = table.cells.get((method, metric))
            style = "" if cell is None else "[bold]" if cell.rank == BEST else "[underline]" if cell.rank == SECOND else ""
            cells.append("–" if cell is None else f"{style}{table.text(cell)}")
        shown.add_row(method, *cells)
    Console(soft_wrap=True).print(shown)


@click.command("report")
@click.argument("folders", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(), help="Folder for the report (created if needed).")
@click.option("--bands", default=None, metavar="R,G,B",
              help="Zero-based bands shown as red, green and blue [default: the sensor's true-colour bands].")
@click.option("--crop", default=None, metavar="Y,X,SIZE",
              help="The square the figure shows: top row, left column, side in pixels [default: a centred square "
                   "of min(rows, columns, 256)].")
@click.option("--zoom", default=None, metavar="Y,X,SIZE",
              help="The square inside the crop shown enlarged in each panel's inset [default: the centred eighth].")
@click.option("--image", "images", multiple=True, metavar="ID",
              help="The image id the figure shows; repeat it to name one per test set [default: the first id every "
                   "method saved].")
@click.option("--figures/--no-figures", default=True, show_default=True,
              help="Draw the visual comparison (reads the saved images and the test set's reference).")
@click.option("--digits", type=click.IntRange(0, 12), default=4, show_default=True,
              help="Decimals in the tables; best and second are ranked on the printed values.")
@click.option("--overwrite", is_flag=True, help="Replace a report already in --out.")
def report_cmd(folders: tuple[str, ...], out: str, bands: str | None, crop: str | None, zoom: str | None,
               images: tuple[str, ...], figures: bool, digits: int, overwrite: bool) -> None:
    """Tables, plots and a visual comparison of methods for a paper, from `rsmif test` FOLDERS.

    FOLDERS are folders written by `rsmif test`, or run folders holding test_rr/test_fr. For each test set,
    --out gets:

    \b
      table_<rr|fr>.md/.csv/.tex   mean ± std per method and metric; best bold, second underlined, ↑/↓
      bars_<rr|fr>.png/.pdf        each metric's mean with a ± std error bar
      boxes_<rr|fr>.png/.pdf       each metric's per-image values
      figure_<rr|fr>.png/.pdf      one crop of every method's fused image in true colour (one stretch for
                                   all) with a zoomed inset, and at reduced resolution its error map against
                                   the reference (one scale for all)
      index.html                   all of them on one page; report.json lists the inputs and files

    Reduced- and full-resolution folders are two test sets; folders of one resolution must come from the same
    test set (dataset, arguments and image ids). Methods are named by their model, with the arguments that
    differ, or the folder's name, where two folders hold one model. Methods without saved images are left out
    of the figure with a note.
    """
    from rsmif_core.evaluation.comparison.figure import FigureOptions
    from rsmif_core.evaluation.comparison.writer import ReportOptions, write_report

    options = FigureOptions(
        bands=_triple(bands, "--bands", "R,G,B"),
        crop=_triple(crop, "--crop", "Y,X,SIZE"),
        zoom=_triple(zoom, "--zoom", "Y,X,SIZE"),
        image_ids=tuple(images),
    )
    if not figures and (bands or crop or zoom or images):
        raise UsageError("--bands, --crop, --zoom and --image choose what the figure shows; they cannot be used with "
                         "--no-figures")
    result = write_report([Path(f) for f in folders], Path(out),
                          ReportOptions(figures=figures, figure=options, digits=digits, overwrite=overwrite))
    from rich.console import Console

    for table in result.tables:
        _print_table(table)
    console = Console(soft_wrap=True, highlight=False)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(f"wrote {len(result.files)} files to {result.out}; open {result.out / 'index.html'}")
