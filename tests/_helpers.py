"""Helpers for the core tests (importable: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from rsmif_core.testing import find_shared

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The read-only reference folder beside the repository (or $RSMIF_SHARED); a path that may not exist."""
    return find_shared(REPO) or REPO.parent / "shared"


def make_distribution(root: Path, dist: str, module: str, source: str, entry_name: str | None = None) -> Path:
    """Write a module and a ``*.dist-info`` with an ``rsmif`` entry point into ``root`` (a sys.path entry)."""
    (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{dist.replace('-', '_')}-0.3.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[rsmif]\n{entry_name or module} = {module}\n", encoding="utf-8")
    return info
