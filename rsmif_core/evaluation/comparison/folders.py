"""Read what ``rsmif test`` wrote into a test folder: ``per_image.json`` and the names of saved images."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rsmif_core.errors import UsageError
from rsmif_core.evaluation.export import safe_name

RESULTS = "per_image.json"
IMAGE_SUFFIXES = (".tif", ".mat")
IDENTITY = ("name", "args", "ids", "sensor", "ratio", "max_value")


@dataclass(frozen=True)
class ScoredFolder:
    """One ``rsmif test`` output: the method, the test set it was scored on, its summary, rows and images."""

    path: Path
    kind: str
    model: str
    arguments: dict[str, Any]
    weights: str | None
    dataset: dict[str, Any]
    directions: dict[str, bool]
    summary: dict[str, dict[str, float]]
    rows: list[dict[str, Any]]
    images: dict[str, Path] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [str(i) for i in self.dataset["ids"]]

    @property
    def metrics(self) -> list[str]:
        return list(self.summary)

    def values(self, metric: str) -> list[float]:
        """The per-image values of ``metric`` in row order; missing or non-numeric values are NaN."""
        out = []
        for row in self.rows:
            value = row.get(metric)
            out.append(number(value))
        return out


def number(value: Any) -> float:
    """A JSON number as a float; anything else (null, text) is NaN."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def expand(paths: list[Path]) -> list[Path]:
    """Test folders from the command line's paths: a test folder itself, or a run folder whose ``test_*``
    folders hold tests (the default ``rsmif test`` output). The same folder twice is an error."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path} does not exist; give folders written by `rsmif test`")
        if path.is_file() and path.name == RESULTS:
            path = path.parent
        if (path / RESULTS).is_file():
            found.append(path)
            continue
        inner = sorted(p for p in path.glob("test_*") if (p / RESULTS).is_file()) if path.is_dir() else []
        if not inner:
            raise UsageError(f"{path} is not a test folder: it holds no {RESULTS} (written by `rsmif test`), nor do "
                             "test_* folders in it")
        found.extend(inner)
    seen: dict[Path, Path] = {}
    for path in found:
        key = path.resolve()
        if key in seen:
            raise UsageError(f"{path} is given twice" + ("" if seen[key] == path else f" (also as {seen[key]})"))
        seen[key] = path
    return found


def _require(condition: bool, path: Path, what: str) -> None:
    if not condition:
        raise UsageError(f"{path / RESULTS}: {what}; expected the {RESULTS} of `rsmif test`")


def read_test_folder(path: Path) -> ScoredFolder:
    """The test folder at ``path``; a usage error naming the file and the field when it does not read."""
    file = path / RESULTS
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{file} does not read as JSON: {exc}") from None
    _require(isinstance(data, dict), path, "not a JSON object")
    _require(data.get("kind") in ("rr", "fr"), path, f"'kind' is {data.get('kind')!r}, not 'rr' or 'fr'")
    _require(isinstance(data.get("model"), str), path, "no 'model' name")
    dataset = data.get("dataset")
    _require(isinstance(dataset, dict) and all(k in dataset for k in IDENTITY), path,
             "no 'dataset' section with the test set's name, args, ids, sensor, ratio and max_value (written by "
             "`rsmif test` since per_image.json records the test set; run the test again)")
    _require(isinstance(dataset["ids"], list), path, "'dataset.ids' is not a list")
    summary = data.get("summary")
    _require(isinstance(summary, dict) and all(isinstance(s, dict) and "mean" in s for s in summary.values()), path,
             "no 'summary' of mean ± std per metric")
    rows = data.get("rows")
    _require(isinstance(rows, list) and all(isinstance(r, dict) for r in rows), path, "no per-image 'rows'")
    directions = data.get("higher_is_better")
    _require(isinstance(directions, dict), path, "no 'higher_is_better' per metric")
    arguments = data.get("arguments") or {}
    _require(isinstance(arguments, dict), path, "'arguments' is not a mapping")
    weights = data.get("weights")
    folder = ScoredFolder(path, data["kind"], data["model"], arguments, None if weights is None else str(weights),
                        dataset, {str(k): bool(v) for k, v in directions.items()},
                        {str(k): {n: number(v) for n, v in s.items()} for k, s in summary.items()}, rows)
    return replace(folder, images=saved_images(path, folder.ids))


def saved_images(path: Path, ids: list[str]) -> dict[str, Path]:
    """id -> the saved fused image of that id (``images/<safe id>.tif`` or ``.mat``); unsaved ids are absent."""
    folder = path / "images"
    if not folder.is_dir():
        return {}
    found = {}
    for image_id in ids:
        for suffix in IMAGE_SUFFIXES:
            file = folder / f"{safe_name(image_id)}{suffix}"
            if file.is_file():
                found[image_id] = file
                break
    return found
