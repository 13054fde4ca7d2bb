"""HyperPanCollection h5 files (Washington DC Mall 191 bands, Pavia Centre 102, Botswana 145, FR1):
keys ``GT/LMS/MS/PAN``, N×C×H×W.

Differs from the authors' loader (RAMSF ``data/data_hsip.py``, which divides by 2047 like the MSIP
loader): the files' value range is detected from a sample of items and rounded up to a standard scale
(1 for files stored already normalised, as Hyper-DSNet reads them unscaled; 2047, 4095, 10000 … for DN),
and is reported in ``value_range``. ``max_value`` overrides it (``2047`` reproduces RAMSF). A file without
``LMS`` gets it computed per item: 23-tap interpolation, or bicubic where the ratio is not a power of 2.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from rsmif_core.data.errors import DataError
from rsmif_core.data.h5 import H5FusionDataset, detect_scale, upsample_lms

_SCENES: tuple[tuple[str, str], ...] = (
    ("wdc", r"wdc|washington|dcmall"),
    ("pavia", r"pavia"),
    ("botswana", r"botswana"),
    ("fr1", r"fr1"),
    ("chikusei", r"chikusei"),
)


def scene_from_filename(path: Path) -> str | None:
    stem = path.stem.lower()
    for scene, pattern in _SCENES:
        if re.search(pattern, stem):
            return scene
    return None


class DetectedScaleMixin:
    """Choose ``max_value``: the argument, else the file attribute, else detected from the values."""

    path: Path
    layout: Any
    _max_value_arg: float | None
    scale_roles: tuple[str, ...] = ("gt", "ms", "pan")

    def _choose_scale(self, f: h5py.File) -> None:
        observed = [self.layout.observed[r][1] for r in self.scale_roles if r in self.layout.observed]
        peak = max(observed) if observed else None
        if self._max_value_arg is not None:
            value, how = float(self._max_value_arg), "given"
        elif "max_value" in f.attrs:
            value, how = float(f.attrs["max_value"]), "file attribute"
        elif peak is not None:
            value, how = detect_scale(peak), "detected"
        else:
            raise DataError(self.path, "value checks are off (check_values=False): pass max_value=")
        if value <= 0:
            raise DataError(self.path, f"max_value must be positive, found {value:g}")
        self.max_value = value
        self.value_range = {"observed_max": peak, "max_value": value, "how": how}


class HyperPanCollection(DetectedScaleMixin, H5FusionDataset):
    """One HyperPanCollection-format h5 file (hyperspectral pansharpening)."""

    collection = "hyperpancollection"
    # where the files come from (named when a configured file is missing)
    source = "https://github.com/liangjiandeng/HyperPanCollection"
    task = "hyperspectral"
    roles = {"gt": "GT", "ms": "MS", "lms": "LMS", "pan": "PAN"}
    optional = frozenset({"gt", "lms"})

    def _configure(self, f: h5py.File) -> None:
        self.lms_computed = "lms" not in self.layout.keys
        # the MTF tables have no hyperspectral sensors: 'none' selects the generic filters in the metrics
        self.scene = scene_from_filename(self.path)
        self.sensor = self._sensor_arg or "none"
        self._choose_scale(f)

    def _compute_lms(self, ms: np.ndarray) -> np.ndarray:
        return upsample_lms(ms, self.ratio)
