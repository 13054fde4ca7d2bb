"""Matplotlib figures on the Agg canvas, with matplotlib's default style, saved as PNG and PDF.

Figures are made with :class:`matplotlib.figure.Figure` and an explicit Agg canvas, never pyplot, so neither
the environment's backend (``MPLBACKEND``) nor a user's ``matplotlibrc`` style changes what is drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rsmif_core.errors import RunFailure
from rsmif_core.io import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("png", "pdf")
PNG_DPI = 150


@contextmanager
def default_style() -> Iterator[None]:
    """matplotlib's own defaults while drawing, whatever a ``matplotlibrc`` sets."""
    from matplotlib import style

    with style.context("default"):
        yield


def new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _check_png(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        image.load()


def _check_pdf(path: Path) -> None:
    data = path.read_bytes()
    if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-64:]:
        raise RunFailure(f"{path}: the written PDF is incomplete")


CHECKS: dict[str, Callable[[Path], None]] = {"png": _check_png, "pdf": _check_pdf}


def save_figure(figure: Figure, stem: Path) -> list[Path]:
    """``stem``.png and ``stem``.pdf, each written whole and read back before it replaces an earlier file."""
    written = []
    for fmt in FORMATS:
        path = stem.with_suffix(f".{fmt}")
        # no creation date: the same report gives the same PDF bytes
        metadata = {"CreationDate": None} if fmt == "pdf" else {}

        def write(tmp: Path, fmt: str = fmt, metadata: dict[str, None] = metadata) -> None:
            figure.savefig(tmp, format=fmt, dpi=PNG_DPI, metadata=metadata)

        written.append(atomic_write(path, write, CHECKS[fmt]))
    return written
