"""Put a report together: read the test folders, group them, and write every file into the report folder.

Each file is written whole through :func:`rsmif_core.io.atomic_write`. A folder that already holds a report
(``index.html`` or ``report.json``) or any file of the planned report is refused unless ``overwrite``; with it,
files that the earlier report listed in its ``report.json`` and this one does not write are removed, so the
folder holds one report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rsmif_core.errors import UsageError
from rsmif_core.evaluation.comparison.figure import FigureOptions, comparison_figure
from rsmif_core.evaluation.comparison.folders import expand, read_test_folder
from rsmif_core.evaluation.comparison.page import Section, render_page
from rsmif_core.evaluation.comparison.tables import (
    ComparisonTable,
    build_table,
    to_csv,
    to_latex,
    to_markdown,
)
from rsmif_core.evaluation.comparison.testsets import TestSet, group_test_sets
from rsmif_core.io import write_json, write_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAGE = "index.html"
MANIFEST = "report.json"
TABLES = ("md", "csv", "tex")
PLOTS = ("bars", "boxes")
IMAGE_FORMATS = ("png", "pdf")


@dataclass(frozen=True)
class ReportOptions:
    figures: bool = True
    figure: FigureOptions = field(default_factory=FigureOptions)
    digits: int = 4
    overwrite: bool = False


@dataclass
class ReportResult:
    out: Path
    files: list[Path]
    tables: list[ComparisonTable]
    notes: list[str]


def _names(test_set: TestSet, figures: bool) -> tuple[list[str], list[str], list[str]]:
    kind = test_set.kind
    tables = [f"table_{kind}.{ext}" for ext in TABLES]
    plots = [f"{plot}_{kind}.{ext}" for plot in PLOTS for ext in IMAGE_FORMATS]
    figure = [f"figure_{kind}.{ext}" for ext in IMAGE_FORMATS] if figures else []
    return tables, plots, figure


def check_report_folder(out: Path, planned: list[str], overwrite: bool) -> list[str]:
    """The files an earlier report listed (to remove those not written again); a usage error without
    ``overwrite`` when ``out`` holds a report or any planned file."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file, not a folder; give --out a folder")
    existing = [n for n in (PAGE, MANIFEST, *planned) if (out / n).exists()]
    if existing and not overwrite:
        what = "a report" if PAGE in existing or MANIFEST in existing else ", ".join(existing)
        raise UsageError(f"{out} already holds {what}; pass --overwrite to replace it or --out a new folder "
                         "(nothing was changed)")
    try:
        earlier = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [n for n in earlier if isinstance(n, str) and n == Path(n).name]


def _check_requested_images(sets: list[TestSet], requested: tuple[str, ...]) -> None:
    for image_id in requested:
        if not any(image_id in s.ids for s in sets):
            examples = "; ".join(f"{s.title}: {', '.join(s.ids[:3])}{', …' if len(s.ids) > 3 else ''}" for s in sets)
            raise UsageError(f"--image {image_id}: no test set holds this image id ({examples})")


def write_report(paths: list[Path], out: Path, options: ReportOptions) -> ReportResult:
    """Read the test folders at ``paths`` and write the report into ``out`` (see ``rsmif report --help``)."""
    folders = [read_test_folder(p) for p in expand(paths)]
    sets = group_test_sets(folders)
    if options.figures:
        _check_requested_images(sets, options.figure.image_ids)
        if not any(m.folder.images for s in sets for m in s.methods):
            raise UsageError("no test folder holds saved images (`rsmif test --save tif` or `--save mat` writes them), "
                             "so there is nothing to show in a figure; pass --no-figures for the tables and plots alone")
    planned = [n for s in sets for group in _names(s, options.figures) for n in group]
    earlier = check_report_folder(out, planned, options.overwrite)

    from rsmif_core.evaluation.comparison.canvas import default_style, save_figure
    from rsmif_core.evaluation.comparison.plots import bar_plot, box_plot

    texts: dict[str, str] = {}
    figures: dict[str, Figure] = {}
    sections: list[Section] = []
    notes: list[str] = []
    tables = []
    with default_style():
        # everything is made, and every figure option checked against the images, before anything is written
        for test_set in sets:
            kind = test_set.kind
            table_names, plot_names, figure_names = _names(test_set, options.figures)
            table = build_table(test_set, options.digits)
            tables.append(table)
            texts.update(zip(table_names, (to_markdown(table), to_csv(table), to_latex(table, f"tab:rsmif-{kind}"))))
            figures[f"bars_{kind}"] = bar_plot(test_set, table)
            figures[f"boxes_{kind}"] = box_plot(test_set, table)
            section_notes: list[str] = []
            figure = comparison_figure(test_set, options.figure, section_notes) if options.figures else None
            if figure is not None:
                figures[f"figure_{kind}"] = figure
            elif options.figures:
                section_notes.append(f"{test_set.title}: no figure, no method saved images")
            notes += section_notes
            sections.append(Section(test_set, table, table_names, plot_names,
                                    figure_names if figure is not None else [], section_notes))
        written = [write_text(out / name, text) for name, text in texts.items()]
        for stem, drawn in figures.items():
            written += save_figure(drawn, out / stem)
    written.append(write_text(out / PAGE, render_page(sections)))
    manifest = {
        "folders": [str(f.path) for f in folders],
        "test_sets": [{"kind": s.kind, "title": s.title, "dataset": s.dataset,
                       "methods": [{"name": m.name, "folder": str(m.folder.path)} for m in s.methods]} for s in sets],
        "options": {"figures": options.figures, "digits": options.digits, "bands": options.figure.bands,
                    "crop": options.figure.crop, "zoom": options.figure.zoom, "image": list(options.figure.image_ids)},
        "notes": notes,
        "files": sorted(p.name for p in written) + [MANIFEST],
    }
    written.append(write_json(out / MANIFEST, manifest))
    for name in set(earlier) - {p.name for p in written}:
        (out / name).unlink(missing_ok=True)
    return ReportResult(out, written, tables, notes)
