"""Per-image rows to CSV, and the mean ± std table the papers print."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from rich.table import Table

from rsmif_core.io import atomic_write


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0]) if rows else ["id"]

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


def summary_table(title: str, summary: dict[str, dict[str, float]], directions: dict[str, bool] | None = None) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("mean ± std", justify="right")
    table.add_column("images", justify="right")
    for name, s in summary.items():
        arrow = "" if directions is None or name not in directions else (" ↑" if directions[name] else " ↓")
        table.add_row(f"{name}{arrow}", f"{s['mean']:.4f} ± {s['std']:.4f}", str(int(s["n"])))
    return table
