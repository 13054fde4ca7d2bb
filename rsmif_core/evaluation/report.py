"""Per-image rows to CSV and JSON, and the mean ± std table the papers print."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from rich.table import Table


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0]) if rows else ["id"]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=_jsonable), encoding="utf-8")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return str(value)


def summary_table(title: str, summary: dict[str, dict[str, float]], directions: dict[str, bool] | None = None) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("mean ± std", justify="right")
    table.add_column("images", justify="right")
    for name, s in summary.items():
        arrow = "" if directions is None or name not in directions else (" ↑" if directions[name] else " ↓")
        table.add_row(f"{name}{arrow}", f"{s['mean']:.4f} ± {s['std']:.4f}", str(int(s["n"])))
    return table
