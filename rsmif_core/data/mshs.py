"""CAVE/Harvard-style MS-HS fusion h5 files (``train_cave(with_up)x4_rgb.h5`` …): keys
``GT/HSI_up/LRHSI/RGB``, N×C×H×W; RGB is the 3-band guide.

RAMSF's ``data/data_mhif.py`` swaps the names relative to pansharpening (its ``ms`` is ``HSI_up``, the
upsampled HSI, and its ``lms`` is ``LRHSI``, the low-resolution one). Here ``HSI_up`` is our ``lms`` and
``LRHSI`` our ``ms``, as in every other task. The scale is detected like HyperPanCollection's (the files
are normally stored in [0, 1]; RAMSF's training loader still divides by 2047, its test loader does not).
"""

from __future__ import annotations

import h5py
import numpy as np

from rsmif_core.data.h5 import H5FusionDataset, upsample_lms
from rsmif_core.data.hyperpancollection import DetectedScaleMixin


class MSHSCollection(DetectedScaleMixin, H5FusionDataset):
    """One MS-HS fusion h5 file (low-resolution HSI + high-resolution RGB/MSI guide)."""

    collection = "ms-hs"
    # where the scenes come from (named when a configured file is missing); the h5 files hold patches cut
    # from them with the keys above
    source = "https://www.cs.columbia.edu/CAVE/databases/multispectral/"
    task = "ms-hs"
    roles = {"gt": "GT", "ms": "LRHSI", "lms": "HSI_up", "pan": "RGB"}
    optional = frozenset({"gt", "lms"})

    def _configure(self, f: h5py.File) -> None:
        stem = self.path.stem.lower()
        self.scene = "cave" if "cave" in stem else "harvard" if "harvard" in stem else None
        # ``sensor`` selects MTF filters in the metrics, which know no HSI cameras: 'none' = generic filters
        self.sensor = self._sensor_arg or "none"
        self._choose_scale(f)

    def _compute_lms(self, ms: np.ndarray) -> np.ndarray:
        return upsample_lms(ms, self.ratio)
