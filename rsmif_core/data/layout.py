"""Where the splits of a simulated scene lie, and how large its patches and test tiles are.

Sizes and rows are in pixels of the *reduced* guide grid, which is the MS grid of the full-resolution
scene (the PAN grid divided by the ratio); full-resolution tiles are in PAN pixels.

Each scene's area with data (the rows and columns between the first and last pixel with data) is cut
into three horizontal strips, top to bottom: training patches, validation patches, test tiles. The
strips never overlap, so no test or validation pixel was seen in training. The reduced-resolution test
tiles and the full-resolution test tiles cover the same bottom strip (the latter at the PAN's
resolution, without reference).

Every test tile is a multiple of :data:`Q_BLOCK` pixels (and of the ratio): the Q / Q2n / D_λ^K / D_s
indices work on 32-pixel blocks and refuse other sizes. Sizes that are not given are chosen to fit the
smallest scene — at most the defaults below (those of PanCollection's test sets) — and every size chosen
below its default is reported in a note; a size that is given is kept or refused, never changed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rsmif_core.data.errors import DataError

Q_BLOCK = 32  # the block of the Q-family indices: every test tile is a multiple of it
PATCH_STEP = 16  # automatic patch sizes are multiples of 16 (and of the ratio): what every method's contract tests
DEFAULT_PATCH = 64
DEFAULT_TEST_SIZE = 256  # PanCollection's reduced-resolution test images
DEFAULT_FR_SIZE = 512  # PanCollection's full-resolution test images (PAN pixels)


@dataclass(frozen=True)
class Extent:
    """Rows [top, bottom) and columns [left, right) of the reduced grid that hold data, aligned to the ratio."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


@dataclass(frozen=True)
class Request:
    """What the user asked for; None: chosen to fit the scenes."""

    patch: int | None = None
    stride: int | None = None
    test_size: int | None = None
    fr_size: int | None = None
    split: float = 0.9  # the share of the training area's rows that holds training patches (the rest: validation)
    test_fraction: float = 0.2  # the share of each scene's rows held out for testing


@dataclass(frozen=True)
class Sizes:
    """The sizes used for every scene (one per h5 file: its items share one shape)."""

    patch: int
    stride: int
    test_size: int  # reduced-resolution test tile, reduced guide grid
    fr_size: int  # full-resolution test tile, PAN grid


@dataclass(frozen=True)
class Strips:
    """One scene's splits as row ranges of the reduced grid, and the columns they span."""

    train: tuple[int, int]
    valid: tuple[int, int] | None
    test: tuple[int, int]
    cols: tuple[int, int]

    def as_dict(self) -> dict[str, list[int] | None]:
        return {"train": list(self.train), "valid": None if self.valid is None else list(self.valid),
                "test": list(self.test), "columns": list(self.cols)}


def test_multiple(ratio: int) -> int:
    """Test tiles are multiples of this: the Q block and the ratio."""
    return math.lcm(Q_BLOCK, ratio)


def valid_extent(valid: np.ndarray, ratio: int) -> Extent | None:
    """The rows and columns of the reduced-grid mask ``valid`` that hold data, shrunk to multiples of the
    ratio (a reduced MS pixel covers ratio×ratio of them); None when nothing holds data."""
    rows = np.flatnonzero(valid.any(axis=1))
    cols = np.flatnonzero(valid.any(axis=0))
    if rows.size == 0:
        return None
    top, left = _ceil(int(rows[0]), ratio), _ceil(int(cols[0]), ratio)
    bottom, right = _floor(int(rows[-1]) + 1, ratio), _floor(int(cols[-1]) + 1, ratio)
    if bottom <= top or right <= left:
        return None
    return Extent(top, bottom, left, right)


def _floor(value: float, step: int) -> int:
    return int(value // step) * step


def _ceil(value: int, step: int) -> int:
    return -(-value // step) * step


def check_request(request: Request, ratio: int) -> None:
    """Refuse sizes and shares that no scene could use, before anything is read."""
    if not 0.0 < request.split <= 1.0:
        raise DataError(None, f"split must lie in (0, 1], found {request.split}")
    if not 0.0 < request.test_fraction < 1.0:
        raise DataError(None, f"test fraction must lie in (0, 1), found {request.test_fraction}")
    for label, value in (("patch", request.patch), ("stride", request.stride)):
        if value is not None and (value <= 0 or value % ratio):
            raise DataError(None, f"{label} {value} must be a positive multiple of the ratio {ratio}")
    block = test_multiple(ratio)
    for label, value in (("test size", request.test_size), ("full-resolution test size", request.fr_size)):
        if value is not None and (value <= 0 or value % block):
            raise DataError(
                None, f"{label} {value} must be a positive multiple of {block} (the {Q_BLOCK}-pixel block of the "
                f"Q2n, D_lambda_K and D_s indices, and the ratio {ratio})",
            )


def _patch_floor(request: Request, ratio: int) -> int:
    return request.patch if request.patch is not None else math.lcm(PATCH_STEP, ratio)


def _strips_needed(request: Request) -> int:
    return 1 if request.split >= 1.0 else 2


def _test_room(extent: Extent, request: Request, ratio: int) -> int:
    """Rows left for the test strip once the training (and validation) strips hold one patch each."""
    return extent.height - _strips_needed(request) * _patch_floor(request, ratio)


def _test_rows(extent: Extent, request: Request, ratio: int, test_size: int) -> int:
    wanted = round(request.test_fraction * extent.height / test_size)
    return max(1, min(wanted, _test_room(extent, request, ratio) // test_size)) * test_size


def choose_sizes(extents: Sequence[tuple[str, Extent]], ratio: int, request: Request) -> tuple[Sizes, list[str]]:
    """Sizes that fit every scene (``(name, extent)`` pairs) and the notes that say which were reduced."""
    check_request(request, ratio)
    block = test_multiple(ratio)
    patch_floor = _patch_floor(request, ratio)
    test_caps, test_wants = [], []
    for name, extent in extents:
        cap = _floor(min(extent.width, _test_room(extent, request, ratio)), block)
        if cap < block or extent.width < patch_floor:
            raise DataError(
                None,
                f"{name}: the area with data is {extent.height}×{extent.width} MS pixels; the simulation needs at "
                f"least {block + _strips_needed(request) * patch_floor} rows (training and validation patches of "
                f"{patch_floor} and a test strip of {block}) and {block} columns",
            )
        test_caps.append(cap)
        test_wants.append(_floor(max(request.test_fraction * extent.height, block), block))
    test_cap = min(test_caps)
    if request.test_size is not None:
        if request.test_size > test_cap:
            raise DataError(None, f"test size {request.test_size} does not fit {_smallest(extents, test_caps)}: "
                            f"at most {test_cap} fits (a multiple of {block})")
        test_size = request.test_size
    else:
        test_size = min(DEFAULT_TEST_SIZE, test_cap, min(test_wants))
    patch_caps, fr_caps = [], []
    for _, extent in extents:
        test_rows = _test_rows(extent, request, ratio, test_size)
        train_area = extent.height - test_rows
        patch_caps.append(min(train_area // _strips_needed(request), extent.width))
        fr_caps.append(_floor(min(test_rows, extent.width) * ratio, block))
    # a given patch always fits: the test strip was sized to leave room for it (see _test_room)
    patch = request.patch or _floor(min(DEFAULT_PATCH, *patch_caps), math.lcm(PATCH_STEP, ratio))
    fr_cap = min(fr_caps)
    if request.fr_size is not None:
        if request.fr_size > fr_cap:
            raise DataError(None, f"full-resolution test size {request.fr_size} does not fit "
                            f"{_smallest(extents, fr_caps)}: at most {fr_cap} fits")
        fr_size = request.fr_size
    else:
        fr_size = min(DEFAULT_FR_SIZE, fr_cap)
    stride = request.stride if request.stride is not None else max(ratio, _floor(patch * 3 // 4, ratio))
    sizes = Sizes(patch, stride, test_size, fr_size)
    return sizes, _size_notes(sizes, request, extents)


def _smallest(extents: Sequence[tuple[str, Extent]], caps: Sequence[int]) -> str:
    name, extent = extents[int(np.argmin(caps))]
    return f"{name} (area with data {extent.height}×{extent.width} MS pixels)"


def _size_notes(sizes: Sizes, request: Request, extents: Sequence[tuple[str, Extent]]) -> list[str]:
    reduced = []
    if request.test_size is None and sizes.test_size < DEFAULT_TEST_SIZE:
        reduced.append(f"reduced-resolution test tiles {sizes.test_size} (default {DEFAULT_TEST_SIZE})")
    if request.fr_size is None and sizes.fr_size < DEFAULT_FR_SIZE:
        reduced.append(f"full-resolution test tiles {sizes.fr_size} (default {DEFAULT_FR_SIZE})")
    if request.patch is None and sizes.patch < DEFAULT_PATCH:
        reduced.append(f"training patches {sizes.patch} (default {DEFAULT_PATCH})")
    if not reduced:
        return []
    areas = ", ".join(f"{name} {e.height}×{e.width}" for name, e in extents)
    return [f"{'; '.join(reduced)}: the defaults do not fit the area with data (MS pixels: {areas})"]


def scene_strips(extent: Extent, ratio: int, sizes: Sizes, request: Request) -> Strips:
    """The training, validation and test rows of one scene (top to bottom, adjoining, never overlapping)."""
    test_rows = _test_rows(extent, request, ratio, sizes.test_size)
    test_top = extent.bottom - test_rows
    area = test_top - extent.top
    valid_rows = 0
    if request.split < 1.0:
        valid_rows = min(max(_floor(round((1.0 - request.split) * area), ratio), sizes.patch), area - sizes.patch)
    split_row = test_top - valid_rows
    return Strips(
        train=(extent.top, split_row),
        valid=(split_row, test_top) if valid_rows else None,
        test=(test_top, extent.bottom),
        cols=(extent.left, extent.right),
    )


def windows(rows: tuple[int, int], cols: tuple[int, int], size: int, stride: int) -> list[tuple[int, int]]:
    """Top-left corners of ``size`` windows every ``stride`` pixels inside ``rows`` × ``cols``."""
    return [(top, left) for top in range(rows[0], rows[1] - size + 1, stride)
            for left in range(cols[0], cols[1] - size + 1, stride)]


def with_data(corners: Sequence[tuple[int, int]], valid: np.ndarray, size: int) -> list[tuple[int, int]]:
    """The windows of ``corners`` (reduced grid) whose every pixel holds data."""
    return [(top, left) for top, left in corners if valid[top : top + size, left : left + size].all()]
