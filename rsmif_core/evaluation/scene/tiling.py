"""Cut a scene into overlapping tiles whose cropped mosaic equals whole-image inference.

The processed region (H×W guide pixels) is partitioned into *cores* of about the requested size (evened out per
axis, multiples of 16 so that they are whole output blocks; the last ones along an axis smaller); each core is written from the model's output on a *window* of the fixed size
``core + 2·margin`` that contains the core and at least ``margin`` pixels around it wherever the scene has
them. Near the scene's edge the window is shifted inwards instead of padded, so the model sees the scene's
real border exactly as whole-image inference does, and every window has the same size (one batch shape).
All window origins are multiples of ``alignment`` (the ratio times whatever the model's strided operations
need), so a convolutional model whose receptive field is at most ``margin`` gives each core pixel the value
it has in whole-image inference. When the region is smaller than a window along an axis, the window is the
whole region along it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """One axis of a tile: the window ``[start, start + size)`` the model sees, the core ``[core_start, core_stop)``
    written from it."""

    start: int
    size: int
    core_start: int
    core_stop: int

    @property
    def crop(self) -> slice:
        """The core inside the window."""
        return slice(self.core_start - self.start, self.core_stop - self.start)


@dataclass(frozen=True)
class Tile:
    index: int
    rows: Span
    cols: Span


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


BLOCK_MULTIPLE = 16  # GeoTIFF block sizes are multiples of 16: cores are too, so each core is whole output blocks


@dataclass(frozen=True)
class TilePlan:
    """The tiles of a ``height``×``width`` region (both multiples of ``alignment``): cores of ``core_rows``×``core_cols``
    pixels (the last ones along an axis may be smaller), windows ``2·margin`` larger."""

    height: int
    width: int
    core_rows: int
    core_cols: int
    margin: int
    alignment: int

    def __post_init__(self) -> None:
        for name in ("core_rows", "core_cols", "margin", "alignment"):
            value = getattr(self, name)
            if value % self.alignment or value < (1 if name != "margin" else 0):
                raise ValueError(f"TilePlan: {name} {value} must be a positive multiple of the alignment {self.alignment}")
        if self.height % self.alignment or self.width % self.alignment:
            raise ValueError(f"TilePlan: region {self.height}×{self.width} is not a multiple of the alignment {self.alignment}")

    @property
    def window(self) -> tuple[int, int]:
        """Height and width of every window the model sees."""
        return (min(self.core_rows + 2 * self.margin, self.height), min(self.core_cols + 2 * self.margin, self.width))

    def spans(self, length: int, core: int) -> list[Span]:
        size = min(core + 2 * self.margin, length)
        spans = []
        for core_start in range(0, length, core):
            core_stop = min(core_start + core, length)
            start = min(max(core_start - self.margin, 0), length - size)
            spans.append(Span(start, size, core_start, core_stop))
        return spans

    @property
    def shape(self) -> tuple[int, int]:
        """Tiles down and across."""
        return math.ceil(self.height / self.core_rows), math.ceil(self.width / self.core_cols)

    def __len__(self) -> int:
        rows, cols = self.shape
        return rows * cols

    def __iter__(self) -> Iterator[Tile]:
        index = 0
        col_spans = self.spans(self.width, self.core_cols)
        for rows in self.spans(self.height, self.core_rows):
            for cols in col_spans:
                yield Tile(index, rows, cols)
                index += 1

    @property
    def computed_pixels(self) -> int:
        """Guide pixels the model computes (windows), against ``height·width`` that are written."""
        h, w = self.window
        return len(self) * h * w

    def describe(self) -> str:
        rows, cols = self.shape
        cores = f"{self.core_rows}" if self.core_rows == self.core_cols else f"{self.core_rows}×{self.core_cols}"
        return f"{len(self)} tiles ({rows}×{cols}), cores {cores} px, margin {self.margin} px"


def balanced_core(length: int, core: int, step: int) -> int:
    """The core size for ``length`` pixels: as many cores as ``core`` needs, evenly sized (rounded up to ``step``), so
    the last one is not a sliver whose window repeats most of its neighbour's work."""
    count = math.ceil(length / max(core, 1))
    return round_up(math.ceil(length / count), step)


def plan_tiles(height: int, width: int, core: int, margin: int, alignment: int) -> TilePlan:
    """A plan with cores of about ``core`` pixels (balanced per axis, multiples of the alignment and of 16) and
    ``margin`` rounded up to the alignment."""
    step = math.lcm(alignment, BLOCK_MULTIPLE)
    return TilePlan(height, width, balanced_core(height, core, step), balanced_core(width, core, step),
                    round_up(max(margin, 0), alignment), alignment)
