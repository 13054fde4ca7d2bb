"""The comparison table of one test set (mean ± std per method and metric, best and second marked) and its
Markdown, CSV, LaTeX (booktabs) and HTML forms.

Best and second are decided on the means as printed (rounded to ``digits``), so equal printed values share a
mark: every method printing the best value is bold, the next value is underlined. One method marks nothing,
two mark only the best. A metric whose direction is not recorded is not ranked and has no arrow.
"""

from __future__ import annotations

import csv
import html
import io
import math
from dataclasses import dataclass

from rsmif_core.evaluation.comparison.testsets import TestSet

# How the papers write the core indices (plain text/Markdown, LaTeX); other metrics keep their names.
LABELS: dict[str, tuple[str, str]] = {
    "sam": ("SAM", "SAM"), "ergas": ("ERGAS", "ERGAS"), "q_index": ("Q", "Q"), "q2n": ("Q2n", "Q2$^n$"),
    "scc": ("SCC", "SCC"), "psnr": ("PSNR", "PSNR"), "ssim": ("SSIM", "SSIM"), "rmse": ("RMSE", "RMSE"),
    "cc": ("CC", "CC"), "rase": ("RASE", "RASE"), "d_lambda": ("D_λ", r"$D_\lambda$"), "d_s": ("D_s", "$D_s$"),
    "qnr": ("QNR", "QNR"), "d_lambda_k": ("D_λ^K", r"$D_\lambda^K$"), "hqnr": ("HQNR", "HQNR"),
}
BEST, SECOND = 1, 2


@dataclass(frozen=True)
class Cell:
    mean: float
    std: float
    n: int
    rank: int = 0  # BEST, SECOND or 0


@dataclass(frozen=True)
class ComparisonTable:
    """Rows are methods, columns metrics; a cell is absent where a method was not scored with a metric."""

    kind: str
    title: str
    methods: list[str]
    folders: list[str]
    metrics: list[str]
    directions: dict[str, bool]
    cells: dict[tuple[str, str], Cell]
    images: int
    digits: int

    def value(self, x: float) -> str:
        return f"{x:.{self.digits}f}" if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))

    def text(self, cell: Cell) -> str:
        return f"{self.value(cell.mean)} ± {self.value(cell.std)}"

    def arrow(self, metric: str) -> str:
        return "" if metric not in self.directions else ("↑" if self.directions[metric] else "↓")

    def label(self, metric: str) -> str:
        return " ".join(p for p in (LABELS.get(metric, (metric, ""))[0], self.arrow(metric)) if p)

    def latex_label(self, metric: str) -> str:
        """The metric's LaTeX name and arrow (matplotlib's mathtext draws it too)."""
        name = LABELS[metric][1] if metric in LABELS else latex_escape(metric)
        arrow = self.arrow(metric)
        return name + ("" if not arrow else r" $\uparrow$" if arrow == "↑" else r" $\downarrow$")

    @property
    def caption(self) -> str:
        return (f"{self.title}: mean ± std over the images; best in bold, second underlined; "
                "↑ higher is better, ↓ lower is better.")


def rank(means: list[float | None], higher_is_better: bool, digits: int) -> list[int]:
    """BEST/SECOND/0 for each mean (None: no value); see the module's docstring."""
    printed = [round(m, digits) if m is not None and math.isfinite(m) else None for m in means]
    present = [p for p in printed if p is not None]
    if len(present) < 2:
        return [0] * len(means)
    distinct = sorted(set(present), reverse=higher_is_better)
    marks = {distinct[0]: BEST}
    if len(present) >= 3 and len(distinct) >= 2:
        marks[distinct[1]] = SECOND
    return [marks.get(p, 0) if p is not None else 0 for p in printed]


def build_table(test_set: TestSet, digits: int = 4) -> ComparisonTable:
    """The table of ``test_set`` from each folder's recorded summary (what ``rsmif test`` printed)."""
    methods = [m.name for m in test_set.methods]
    directions = test_set.directions
    cells: dict[tuple[str, str], Cell] = {}
    for metric in test_set.metrics:
        present = [m for m in test_set.methods if metric in m.folder.summary]
        means = [m.folder.summary[metric]["mean"] for m in present]
        ranks = rank(list(means), directions[metric], digits) if metric in directions else [0] * len(present)
        for method, r in zip(present, ranks):
            s = method.folder.summary[metric]
            n = s.get("n", math.nan)
            cells[(method.name, metric)] = Cell(s["mean"], s.get("std", math.nan), int(n) if math.isfinite(n) else 0, r)
    return ComparisonTable(test_set.kind, test_set.title, methods, [str(m.folder.path) for m in test_set.methods],
                           test_set.metrics, directions, cells, len(test_set.ids), digits)


def to_markdown(table: ComparisonTable) -> str:
    """A GitHub-flavoured Markdown table with its caption; underlining is ``<u>`` (Markdown has none)."""
    lines = [f"**{table.caption}**", "", "| method | " + " | ".join(table.label(m) for m in table.metrics) + " |",
             "|---|" + "---:|" * len(table.metrics)]
    for method in table.methods:
        cells = []
        for metric in table.metrics:
            cell = table.cells.get((method, metric))
            text = "–" if cell is None else table.text(cell)
            if cell is not None and cell.rank == BEST:
                text = f"**{text}**"
            elif cell is not None and cell.rank == SECOND:
                text = f"<u>{text}</u>"
            cells.append(text)
        lines.append(f"| {method.replace('|', '/')} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(table: ComparisonTable) -> str:
    """One row per method: its folder, the number of images, then each metric's mean and std at full precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "folder", "images", *(f"{m}_{s}" for m in table.metrics for s in ("mean", "std"))])
    for method, folder in zip(table.methods, table.folders):
        values: list[str] = []
        for metric in table.metrics:
            cell = table.cells.get((method, metric))
            values += ["", ""] if cell is None else [repr(cell.mean), repr(cell.std)]
        counts = {c.n for (m, _), c in table.cells.items() if m == method}
        writer.writerow([method, folder, counts.pop() if len(counts) == 1 else "", *values])
    return buffer.getvalue()


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(c, c) for c in text)


def to_latex(table: ComparisonTable, label: str) -> str:
    """A ``table`` float with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``)."""
    def body(cell: Cell | None) -> str:
        if cell is None:
            return "--"
        text = f"{table.value(cell.mean)} $\\pm$ {table.value(cell.std)}"
        return rf"\textbf{{{text}}}" if cell.rank == BEST else rf"\underline{{{text}}}" if cell.rank == SECOND else text

    caption = latex_escape(table.caption).replace("±", r"$\pm$").replace("↑", r"$\uparrow$").replace("↓", r"$\downarrow$")
    lines = [
        "% written by rsmif report; needs \\usepackage{booktabs}",
        r"\begin{table}[htbp]",
        r"  \centering",
        rf"  \caption{{{caption}}}",
        rf"  \label{{{label}}}",
        rf"  \begin{{tabular}}{{l{'c' * len(table.metrics)}}}",
        r"    \toprule",
        "    Method & " + " & ".join(table.latex_label(m) for m in table.metrics) + r" \\",
        r"    \midrule",
    ]
    for method in table.methods:
        lines.append(f"    {latex_escape(method)} & " + " & ".join(body(table.cells.get((method, m))) for m in table.metrics)
                     + r" \\")
    lines += [r"    \bottomrule", r"  \end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_html(table: ComparisonTable) -> str:
    """The table as an HTML ``<table>`` with its caption (bold and underline as ``<b>`` and ``<u>``)."""
    head = "".join(f"<th>{html.escape(table.label(m))}</th>" for m in table.metrics)
    rows = []
    for method in table.methods:
        cells = []
        for metric in table.metrics:
            cell = table.cells.get((method, metric))
            text = "–" if cell is None else html.escape(table.text(cell))
            if cell is not None and cell.rank == BEST:
                text = f"<b>{text}</b>"
            elif cell is not None and cell.rank == SECOND:
                text = f"<u>{text}</u>"
            cells.append(f"<td>{text}</td>")
        rows.append(f"<tr><th scope=\"row\">{html.escape(method)}</th>{''.join(cells)}</tr>")
    return (f"<table>\n<caption>{html.escape(table.caption)}</caption>\n<thead><tr><th>method</th>{head}</tr></thead>\n"
            f"<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>")
