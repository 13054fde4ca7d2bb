"""Per-metric bar charts (mean with a ± std error bar) and per-image box plots of one test set."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rsmif_core.evaluation.comparison.canvas import new_figure
from rsmif_core.evaluation.comparison.tables import LABELS, ComparisonTable
from rsmif_core.evaluation.comparison.testsets import TestSet

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _grid(test_set: TestSet) -> tuple[Figure, list[Axes]]:
    metrics = test_set.metrics
    columns = min(3, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    panel = max(2.6, 0.45 * len(test_set.methods) + 1.0)
    figure = new_figure(panel * columns, 3.0 * rows)
    axes = list(figure.subplots(rows, columns, squeeze=False).flat)
    for spare in axes[len(metrics):]:
        spare.set_visible(False)
    return figure, axes[: len(metrics)]


def _colours(count: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if count <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(count)]


def _title(table: ComparisonTable, metric: str) -> str:
    """The papers' symbol (mathtext) for a core index; a plugin's metric keeps its name as written."""
    return table.latex_label(metric) if metric in LABELS else table.label(metric)


def _label_methods(axes: Axes, names: list[str]) -> None:
    axes.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)


def bar_plot(test_set: TestSet, table: ComparisonTable) -> Figure:
    """One panel per metric: each method's mean as a bar, its standard deviation as the error bar."""
    figure, axes = _grid(test_set)
    names = [m.name for m in test_set.methods]
    colours = _colours(len(names))
    for ax, metric in zip(axes, test_set.metrics):
        cells = [table.cells.get((name, metric)) for name in names]
        means = [c.mean if c is not None else math.nan for c in cells]
        stds = [c.std if c is not None and math.isfinite(c.std) else 0.0 for c in cells]
        ax.bar(range(len(names)), means, yerr=stds, color=colours, capsize=3, edgecolor="black", linewidth=0.5)
        ax.set_title(_title(table, metric), fontsize=10)
        _label_methods(ax, names)
        ax.grid(axis="y", linewidth=0.3)
    figure.suptitle(f"{test_set.title}: mean ± std", fontsize=10)
    return figure


def box_plot(test_set: TestSet, table: ComparisonTable) -> Figure:
    """One panel per metric: the distribution of each method's per-image values (finite values only)."""
    figure, axes = _grid(test_set)
    names = [m.name for m in test_set.methods]
    colours = _colours(len(names))
    for ax, metric in zip(axes, test_set.metrics):
        data = [[v for v in m.folder.values(metric) if math.isfinite(v)] for m in test_set.methods]
        boxes = ax.boxplot([d if d else [math.nan] for d in data], positions=range(len(names)), widths=0.6,
                           patch_artist=True, medianprops={"color": "black"})
        for patch, colour in zip(boxes["boxes"], colours):
            patch.set_facecolor(colour)
        ax.set_title(_title(table, metric), fontsize=10)
        _label_methods(ax, names)
        ax.grid(axis="y", linewidth=0.3)
    figure.suptitle(f"{test_set.title}: per image", fontsize=10)
    return figure
