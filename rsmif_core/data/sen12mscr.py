"""SEN12MS-CR (SAR-optical cloud removal): Sentinel-1 + cloudy Sentinel-2 -> cloud-free Sentinel-2.

Folder tree (as distributed on mediaTUM): ``<root>/ROIs<id>_<season>_s1/s1_<n>/ROIs<id>_<season>_s1_<n>_p<k>.tif``
with the same scene ``n`` and patch ``k`` under ``…_s2/s2_<n>/`` (cloud-free) and
``…_s2_cloudy/s2_cloudy_<n>/`` (cloudy). Items: ``pan`` = S1 (VV, VH), ``ms`` = ``lms`` = cloudy S2 (13
bands), ``gt`` = cloud-free S2; ratio 1.

Scaling as the SEN12MS-CR(-TS) reference loader (``process_SAR`` / ``process_MS``): ``"default"`` clips S2 to
[0, 10000] and divides by 10000, clips S1 to [-25, 0] dB and maps it to [0, 1]; ``"resnet"`` (DSen2-CR)
divides S2 by 2000 (-> [0, 5]) and maps VV [-25, 0] and VH [-32.5, 0] each to [0, 2]. ``max_value`` is the S2
divisor. Differences from the reference loader: scenes are matched exactly (its substring test puts
``s1_1`` of a split list around ``s1_10``, ``s1_100`` … too), and unpaired patches are an error at creation
(listing them) unless ``skip_unpaired=True`` (it skips them silently).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from rsmif_core.data.augment import EpochAware, SharedEpoch, choose_orientation, choose_window, item_rng
from rsmif_core.data.errors import DataError
from rsmif_core.data.sen12mscr_splits import SEASONS, split_scenes

S1_BANDS, S2_BANDS = 2, 13
SCALINGS = ("default", "resnet")
SPLITS = ("train", "val", "test", "all")
_S1_DIR = re.compile(r"^(ROIs\d+)_([a-z]+)_s1$")
_SCENE_DIR = re.compile(r"^s1_(\d+)$")
_PATCH = re.compile(r"_p(\d+)\.tif$")
LAYOUT_HINT = (
    "expected <root>/ROIs1158_spring_s1/s1_<n>/ROIs1158_spring_s1_<n>_p<k>.tif with matching "
    "…_s2/s2_<n>/…_s2_<n>_p<k>.tif and …_s2_cloudy/s2_cloudy_<n>/…_s2_cloudy_<n>_p<k>.tif"
)


def partner_paths(s1: Path) -> tuple[Path, Path]:
    """The cloud-free and cloudy S2 files of an S1 file."""
    roi_dir, scene_dir = s1.parent.parent, s1.parent
    prefix = roi_dir.name[: -len("_s1")]
    n = scene_dir.name[len("s1_") :]
    k = _PATCH.search(s1.name)
    assert k is not None
    root = roi_dir.parent
    s2 = root / f"{prefix}_s2" / f"s2_{n}" / f"{prefix}_s2_{n}_p{k.group(1)}.tif"
    cloudy = root / f"{prefix}_s2_cloudy" / f"s2_cloudy_{n}" / f"{prefix}_s2_cloudy_{n}_p{k.group(1)}.tif"
    return s2, cloudy


def scale_s2(raw: np.ndarray, scaling: str) -> np.ndarray:
    clipped = np.clip(raw, 0.0, 10000.0)
    return clipped / (10000.0 if scaling == "default" else 2000.0)


def scale_s1(raw_db: np.ndarray, scaling: str) -> np.ndarray:
    raw_db = np.nan_to_num(raw_db, nan=-25.0)
    if scaling == "default":
        return (np.clip(raw_db, -25.0, 0.0) + 25.0) / 25.0
    lows = np.array([-25.0, -32.5])[:, None, None]
    return 2.0 * (np.clip(raw_db, lows, 0.0) - lows) / -lows


class SEN12MSCR(EpochAware, Dataset[dict[str, Any]]):
    """The SEN12MS-CR triplets of one official split under ``root``.

    ``split``: train / val / test (the official scene lists of SEN12MS-CR-TS's ``SEN12MSCR`` loader) or
    all. ``crop``: square crop (random with ``augment=True``, which also flips and rotates).
    """

    # where the files come from (named when a configured root is missing)
    source = "https://patricktum.github.io/cloud_removal/sen12mscr/"
    task = "sar-optical"
    # ``sensor`` selects MTF filters in the metrics (which have no Sentinel entry): 'none' = generic
    sensor = "none"
    platform = "sentinel-1 + sentinel-2"
    ratio = 1
    spectral_bands = S2_BANDS
    guide_bands = S1_BANDS
    has_reference = True

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        scaling: str = "default",
        crop: int | None = None,
        augment: bool = False,
        seed: int = 0,
        skip_unpaired: bool = False,
    ) -> None:
        self.root = Path(root).expanduser()
        if split not in SPLITS:
            raise DataError(self.root, f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        if scaling not in SCALINGS:
            raise DataError(self.root, f"unknown scaling {scaling!r}; expected one of {', '.join(SCALINGS)}")
        self.split, self.scaling = split, scaling
        self.max_value = 10000.0 if scaling == "default" else 2000.0
        self.crop = None if crop is None else int(crop)
        self.augment, self.seed, self._epoch = bool(augment), int(seed), SharedEpoch()
        self.items, self.unpaired = self._index(skip_unpaired)
        self.size = self._check_first()
        if self.crop is not None and not 1 <= self.crop <= min(self.size):
            raise DataError(self.root, f"crop {self.crop} must lie in 1…{min(self.size)} (the patch size)")

    def _index(self, skip_unpaired: bool) -> tuple[list[tuple[Path, Path, Path]], list[Path]]:
        if not self.root.exists():
            raise DataError(self.root, "no such folder")
        if not self.root.is_dir():
            raise DataError(self.root, "expected the SEN12MS-CR root folder, found a file")
        wanted = split_scenes(self.split)
        items: list[tuple[Path, Path, Path]] = []
        unpaired: list[Path] = []
        s1_roots = sorted(d for d in self.root.iterdir() if d.is_dir() and _S1_DIR.match(d.name))
        if not s1_roots:
            found = ", ".join(sorted(d.name for d in self.root.iterdir())[:8]) or "nothing"
            raise DataError(self.root, f"no ROIs*_<season>_s1 folders (found: {found}); {LAYOUT_HINT}")
        for roi_dir in s1_roots:
            m = _S1_DIR.match(roi_dir.name)
            assert m is not None
            if m.group(2) not in SEASONS:
                continue
            for scene_dir in sorted(roi_dir.iterdir(), key=_natural):
                sm = _SCENE_DIR.match(scene_dir.name)
                if not sm or (wanted is not None and (roi_dir.name, int(sm.group(1))) not in wanted):
                    continue
                for s1 in sorted(scene_dir.glob("*.tif"), key=_natural):
                    if not _PATCH.search(s1.name):
                        continue
                    s2, cloudy = partner_paths(s1)
                    if s2.is_file() and cloudy.is_file():
                        items.append((s1, s2, cloudy))
                    else:
                        unpaired.append(s1)
        if unpaired and not skip_unpaired:
            shown = "; ".join(f"{p.relative_to(self.root)} lacks {', '.join(str(q.relative_to(self.root)) for q in partner_paths(p) if not q.is_file())}" for p in unpaired[:3])
            raise DataError(
                self.root,
                f"{len(unpaired)} S1 patches have no cloud-free or cloudy S2 partner ({shown}"
                f"{' …' if len(unpaired) > 3 else ''}); pass skip_unpaired=True to leave them out",
            )
        if not items:
            raise DataError(self.root, f"no patches of the {self.split!r} split found; {LAYOUT_HINT}")
        return items, unpaired

    def _check_first(self) -> tuple[int, int]:
        """Band counts and grids of the first triplet (the rest are checked as they are read)."""
        arrays = self._read_files(0)
        return arrays[0].shape[-2], arrays[0].shape[-1]

    def _read_files(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import rasterio

        paths = self.items[index]
        out = []
        grids = []
        for path, bands in zip(paths, (S1_BANDS, S2_BANDS, S2_BANDS)):
            try:
                with rasterio.open(path) as src:
                    data = src.read().astype(np.float32)
                    grids.append((src.crs, src.transform, src.width, src.height))
            except rasterio.errors.RasterioError as exc:
                raise DataError(path, f"not a readable GeoTIFF: {exc}") from None
            if data.shape[0] != bands:
                raise DataError(path, f"expected {bands} bands, found {data.shape[0]}")
            out.append(data)
        if len({g[2:] for g in grids}) != 1 or len({(str(g[0]), tuple(g[1])) for g in grids}) != 1:
            raise DataError(
                paths[0],
                "the S1, S2 and cloudy S2 patches are on different grids: "
                + "; ".join(f"{p.name} {g[3]}×{g[2]} {g[0]} {tuple(g[1])[:6]}" for p, g in zip(paths, grids)),
            )
        return out[0], out[1], out[2]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"{self.root.name}: index {index} out of range for {len(self)} items")
        index %= len(self)
        s1, s2, cloudy = self._read_files(index)
        arrays = {
            "pan": scale_s1(s1, self.scaling),
            "ms": scale_s2(cloudy, self.scaling),
            "gt": scale_s2(s2, self.scaling),
        }
        rng = item_rng(self.seed, self.epoch, index) if self.augment else None
        if self.crop is not None:
            win = choose_window(rng, arrays["pan"].shape[-2:], self.crop, 1).low()
            arrays = {k: v[:, win[0], win[1]] for k, v in arrays.items()}
        if self.augment:
            orient = choose_orientation(item_rng(self.seed, self.epoch, index, stream=1))
            arrays = {k: orient.apply(v) for k, v in arrays.items()}
        item: dict[str, Any] = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in arrays.items()}
        item["lms"] = item["ms"]
        s1_path = self.items[index][0]
        item.update(task=self.task, sensor=self.sensor, ratio=1, max_value=self.max_value,
                    id=str(s1_path.relative_to(self.root).with_suffix("")))
        return item

    def __repr__(self) -> str:
        return f"SEN12MSCR({str(self.root)!r}, split={self.split!r}, items={len(self)}, scaling={self.scaling!r})"


def _natural(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]
