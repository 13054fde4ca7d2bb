"""The upsampled spectral image (``lms``) of one tile, equal to the whole-image one.

Training data upsample the MS with the toolbox's 23-tap interpolator (``interp23tap``, powers of 2) or
MATLAB bicubic ``imresize`` (other ratios), on the whole image: ``rsmif_core.data.h5.upsample_lms``. Both are
linear, shift-invariant (one MS pixel = ``ratio`` guide pixels) and have a short support, so the rows of a
tile depend only on MS pixels within :attr:`TileUpsampler.margin` of the tile. A tile's lms is therefore the
upsampling of its MS window widened by that margin, cropped back.

At the scene's border each interpolator sees what it sees on the whole image: ``interp23tap`` filters with
*circular* boundaries (MATLAB ``imfilter(..., 'circular')``, as the toolbox does), so the first rows of the
scene's lms mix in its last MS rows; ``imresize`` mirrors the edge (``symmetric``). The widened window is
read with the same rule (wrapped or mirrored indices into the scene's MS), so border tiles match the
whole-image lms too. The circular wrap is the toolbox's convention, not physics: it changes the outermost
few guide pixels (about ``margin · ratio``) of a scene's lms.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from rsmif_core.ops.interp import imresize, imresize_matrix, interp23tap, interp23tap_matrix

PROBE = 64  # MS pixels of the axis whose matrix gives the support (longer than any support, shorter than a wrap)


def interpolator(ratio: int) -> str:
    """The whole-image upsampler of the training data for ``ratio``: ``identity``, ``interp23tap`` or ``imresize``."""
    if ratio == 1:
        return "identity"
    return "interp23tap" if ratio & (ratio - 1) == 0 else "imresize"


@dataclass(frozen=True)
class TileUpsampler:
    """Upsample tiles of an MS of ``ms_height``×``ms_width`` pixels by ``ratio`` as the whole image would be."""

    ratio: int
    ms_height: int
    ms_width: int

    @property
    def kind(self) -> str:
        return interpolator(self.ratio)

    @property
    def boundary(self) -> str:
        return {"identity": "clamp", "interp23tap": "circular", "imresize": "symmetric"}[self.kind]

    @cached_property
    def margin(self) -> int:
        """MS pixels beyond a tile, on each side, that its lms depends on (from the interpolator's matrix)."""
        if self.kind == "identity":
            return 0
        n, r = PROBE, self.ratio
        mat = interp23tap_matrix(n, r) if self.kind == "interp23tap" else imresize_matrix(n, r * n, float(r), True)
        rows, cols = np.nonzero(np.abs(mat) > 0)
        inside = (rows >= r * n // 4) & (rows < 3 * r * n // 4)  # away from the probe's own boundary
        return int(np.max(np.abs(cols[inside] - rows[inside] // r)))

    def upsample(self, window: np.ndarray) -> np.ndarray:
        """``window``: C×(h + 2·margin)×(w + 2·margin) MS pixels -> the tile's lms, C×(ratio·h)×(ratio·w), contiguous,
        in the window's float dtype (only the kept rows and columns of each matrix are applied)."""
        m, r = self.margin, self.ratio
        if self.kind == "identity":
            return np.ascontiguousarray(window)
        h, w = window.shape[-2:]
        x = torch.from_numpy(np.ascontiguousarray(window))
        # only the kept rows of each axis's matrix; copies (the cached matrices are read-only)
        rows = torch.tensor(self._matrix(h)[r * m : r * (h - m)], dtype=x.dtype)
        cols = torch.tensor(self._matrix(w)[r * m : r * (w - m)], dtype=x.dtype)
        return torch.matmul(torch.matmul(rows, x), cols.T).numpy()

    def _matrix(self, n: int) -> np.ndarray:
        if self.kind == "interp23tap":
            return interp23tap_matrix(n, self.ratio)
        return imresize_matrix(n, self.ratio * n, float(self.ratio), True)

    def whole(self, ms: np.ndarray) -> np.ndarray:
        """The whole-image lms of C×h×w ``ms`` (what the tiles reproduce; for tests and small scenes)."""
        if self.kind == "identity":
            return ms
        x = torch.from_numpy(np.asarray(ms, dtype=np.float64))[None]
        up = interp23tap(x, self.ratio) if self.kind == "interp23tap" else imresize(x, scale=float(self.ratio))
        return up[0].numpy()
