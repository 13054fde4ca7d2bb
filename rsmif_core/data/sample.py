"""The ``sample`` dataset: a small scene per task that needs no file, for the quickstart and for tests.

Pansharpening uses the shipped real Landsat-7 ETM+ crop (public domain, ``sample_data/``; ratio 2, six
bands, 8-bit) taken through the Wald protocol exactly like ``rsmif data simulate``; the other tasks (and
``scene="synthetic"`` for pansharpening) use a generated scene (``synthetic.py``). Every scene is cut the
same way on its reduced-resolution guide grid: training patches of 32 pixels (stride 16) from the top,
then a 32-row strip of validation patches, then a 64-row strip of 64-pixel test tiles; ``test_fr`` holds the
same ground at full resolution without reference (for synthetic scenes: the test tiles without ``gt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from rsmif_core.data import synthetic
from rsmif_core.data.augment import EpochAware, SharedEpoch, choose_orientation, item_rng
from rsmif_core.data.errors import DataError
from rsmif_core.data.h5 import upsample_lms
from rsmif_core.data.wald import full_resolution_tiles, reduce_resolution, tiles
from rsmif_core.types import TASKS

SPLITS = ("train", "val", "test", "test_fr")
PATCH, STRIDE, VAL_ROWS, TEST_TILE = 32, 16, 32, 64
SCENES = {"pansharpening": ("landsat7", "synthetic"), "hyperspectral": ("synthetic",), "ms-hs": ("synthetic",),
          "sar-optical": ("synthetic",)}
LANDSAT_FILE = "landsat7_etm_scene8.npz"
SYNTHETIC_SIZE = 256
DEFAULT_BANDS = {"pansharpening": 4, "hyperspectral": 102, "ms-hs": 31, "sar-optical": 13}
DEFAULT_RATIO = {"pansharpening": 4, "hyperspectral": 4, "ms-hs": 4, "sar-optical": 1}


@dataclass
class SampleSplits:
    """Every split of one sample scene: arrays N×C×H×W float32 in [0, 1] (raw / max_value)."""

    task: str
    scene: str
    sensor: str
    ratio: int
    max_value: float
    splits: dict[str, dict[str, np.ndarray]]


def load_landsat() -> tuple[np.ndarray, np.ndarray]:
    """The shipped Landsat-7 crop: PAN 1×384×384 and MS 6×192×192, uint8 DN."""
    with resources.files("rsmif_core.data.sample_data").joinpath(LANDSAT_FILE).open("rb") as fh:
        with np.load(fh) as npz:
            return npz["pan"], npz["ms"]


def _cut(reduced: dict[str, np.ndarray], ratio: int) -> dict[str, dict[str, np.ndarray]]:
    h = reduced["pan"].shape[-2]
    test0, val0 = h - TEST_TILE, h - TEST_TILE - VAL_ROWS
    return {
        "train": tiles(reduced, PATCH, STRIDE, ratio, rows=(0, val0)),
        "val": tiles(reduced, PATCH, PATCH, ratio, rows=(val0, test0)),
        "test": tiles(reduced, TEST_TILE, TEST_TILE, ratio, rows=(test0, h)),
    }


def _scaled(arrays: dict[str, np.ndarray], scale: float) -> dict[str, np.ndarray]:
    return {k: (v / scale).astype(np.float32) for k, v in arrays.items()}


def _landsat_splits() -> SampleSplits:
    pan, ms = load_landsat()
    ratio, max_value = 2, 255.0
    reduced = reduce_resolution(pan.astype(np.float64), ms.astype(np.float64), "none", ratio)
    splits = _cut(reduced, ratio)
    h = reduced["pan"].shape[-2]
    size = TEST_TILE * ratio
    splits["test_fr"] = full_resolution_tiles(pan, ms, ratio, size, ((h - TEST_TILE) * ratio, h * ratio))
    return SampleSplits("pansharpening", "landsat7", "none", ratio, max_value,
                        {k: _scaled(v, max_value) for k, v in splits.items()})


def _synthetic_splits(task: str, bands: int, ratio: int, seed: int) -> SampleSplits:
    if task == "sar-optical":
        scene = synthetic.sar_optical_scene(SYNTHETIC_SIZE, seed)
        s1 = (np.clip(scene["s1"], -25.0, 0.0) + 25.0) / 25.0
        cloudy = np.clip(scene["s2_cloudy"], 0, 10000) / 10000.0
        clear = np.clip(scene["s2"], 0, 10000) / 10000.0
        reduced = {"gt": clear, "ms": cloudy, "lms": cloudy, "pan": s1}
        sensor, max_value, ratio = "none", 10000.0, 1  # 'none': the metrics' MTF table has no Sentinel-2
    else:
        guide = "rgb" if task == "ms-hs" else "pan"
        scene = synthetic.fusion_scene(SYNTHETIC_SIZE, bands, guide, ratio, seed)
        reduced = dict(scene, lms=upsample_lms(scene["ms"], ratio))
        sensor = "none"
        max_value = 2047.0 if task == "pansharpening" else 1.0
    splits = _cut({k: v.astype(np.float32) for k, v in reduced.items()}, ratio)
    splits["test_fr"] = {k: v for k, v in splits["test"].items() if k != "gt"}
    return SampleSplits(task, "synthetic", sensor, ratio, max_value,
                        {k: {n: a.astype(np.float32) for n, a in v.items()} for k, v in splits.items()})


@lru_cache(maxsize=8)
def sample_splits(task: str, scene: str | None = None, bands: int | None = None, ratio: int | None = None,
                  seed: int = 0) -> SampleSplits:
    """Build (once per process) every split of the sample scene of ``task``."""
    if task not in TASKS:
        raise DataError(None, f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    scene = scene or SCENES[task][0]
    if scene not in SCENES[task]:
        raise DataError(None, f"no sample scene {scene!r} for task {task!r}; available: {', '.join(SCENES[task])}")
    if scene == "landsat7":
        if bands is not None or ratio is not None:
            raise DataError(None, "the landsat7 scene has 6 bands at ratio 2; bands/ratio apply to scene='synthetic'")
        return _landsat_splits()
    bands = bands or DEFAULT_BANDS[task]
    ratio = ratio or DEFAULT_RATIO[task]
    if task == "sar-optical" and (bands != 13 or ratio != 1):
        raise DataError(None, "the sar-optical sample has 13 Sentinel-2 bands at ratio 1")
    if ratio < 1 or PATCH % ratio:
        raise DataError(None, f"ratio {ratio} must divide the sample patch size {PATCH}")
    return _synthetic_splits(task, int(bands), int(ratio), int(seed))


class SampleDataset(EpochAware, Dataset[dict[str, Any]]):
    """One split of a sample scene, held in memory (the scene is a few MB)."""

    def __init__(
        self,
        task: str = "pansharpening",
        split: str = "train",
        scene: str | None = None,
        bands: int | None = None,
        ratio: int | None = None,
        augment: bool = False,
        seed: int = 0,
    ) -> None:
        if split not in SPLITS:
            raise DataError(None, f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        data = sample_splits(task, scene, bands, ratio, seed)
        self.arrays = data.splits[split]
        self.task, self.scene, self.split = data.task, data.scene, split
        self.sensor, self.ratio, self.max_value = data.sensor, data.ratio, data.max_value
        self.spectral_bands = int(self.arrays["ms"].shape[1])
        self.guide_bands = int(self.arrays["pan"].shape[1])
        self.has_reference = "gt" in self.arrays
        self.augment, self.seed, self._epoch = bool(augment), int(seed), SharedEpoch()

    def __len__(self) -> int:
        return int(self.arrays["pan"].shape[0])

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"sample {self.task}/{self.split}: index {index} out of range for {len(self)} items")
        index %= len(self)
        orient = choose_orientation(item_rng(self.seed, self.epoch, index, stream=1)) if self.augment else None
        item: dict[str, Any] = {}
        for key, array in self.arrays.items():
            values = array[index]
            item[key] = torch.from_numpy(orient.apply(values) if orient else values.copy())
        item.update(task=self.task, sensor=self.sensor, ratio=self.ratio, max_value=self.max_value,
                    id=f"sample-{self.scene}-{self.split}/{index}")
        return item

    def __repr__(self) -> str:
        return (f"SampleDataset(task={self.task!r}, split={self.split!r}, scene={self.scene!r}, items={len(self)}, "
                f"bands={self.spectral_bands}+{self.guide_bands}, ratio={self.ratio})")
