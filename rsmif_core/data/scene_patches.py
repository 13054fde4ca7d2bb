"""Full-resolution training items from PAN + MS scenes: patches at the scenes' own scale, without reference.

The unsupervised full-resolution losses (Z-PNN, λ-PNN) train on what a user actually has: the PAN and
the MS at their native resolutions. Items hold ``pan`` (the PAN patch), ``ms`` (the MS pixels under it)
and ``lms`` (the MS upsampled over the whole scene with the toolbox interpolator, then cut, so patch
borders see their neighbours), scaled to [0, 1] by the product's largest DN; ``gt`` is None.

Where the items come from:

* ``pan`` + ``ms``: one scene pair (GeoTIFF, .mat or .npy; ``rsmif data simulate``'s readers and checks);
* ``folder``: a ``rsmif data simulate`` output. Its manifest names the source scenes and the rows of each
  split, so ``split: train`` gives full-resolution patches of exactly the ground its reduced-resolution
  training patches come from (and ``valid`` / ``test`` likewise), with its sensor, scale and MTF gains.

Which patches (λ-PNN's target-adaptation recipe): a single region no larger than ``patches`` patches and
without no-data is one item, the whole region; otherwise it is cut into non-overlapping ``patch_size``
tiles, tiles touching no-data are dropped, and when more than ``patches`` remain, ``patches`` tiles that
represent the scene are chosen: k-means on per-tile descriptors, the tile nearest each centre. λ-PNN
clusters ImageNet MobileNet features; RSMIF downloads nothing at run time, so its descriptors are the
tile's per-band MS means and standard deviations and the PAN's mean, standard deviation and gradient
energy (standardised), which group tiles by land cover and texture the same way.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rsmif_core.data.errors import DataError
from rsmif_core.data.h5 import upsample_lms
from rsmif_core.data.manifest import read_manifest
from rsmif_core.data.rasters import check_pair, read_raster
from rsmif_core.data.simulation import PreparedScene, prepare_scene, radiometric_scale
from rsmif_core.data.wald import resolve_mtf_gains

SPLITS = ("train", "valid", "test")
TASKS = ("pansharpening", "hyperspectral")


@dataclass(frozen=True)
class _Region:
    """Rows and columns of one scene's MS grid that items may come from."""

    scene: PreparedScene
    rows: tuple[int, int]
    cols: tuple[int, int]

    @property
    def ms_area(self) -> int:
        return (self.rows[1] - self.rows[0]) * (self.cols[1] - self.cols[0])

    @property
    def fully_valid(self) -> bool:
        return bool(self.scene.valid[self.rows[0]:self.rows[1], self.cols[0]:self.cols[1]].all())


@dataclass(frozen=True)
class _Item:
    region: int
    top: int  # MS grid
    left: int
    height: int  # MS pixels
    width: int


class ScenePatches(torch.utils.data.Dataset[dict[str, Any]]):
    """Full-resolution patches (no reference) of one scene pair or of a ``data simulate`` folder's split.

    ``patch_size`` is in PAN pixels and must be a multiple of the ratio and of ``alignment`` (what the model
    needs its input sizes divisible by, in PAN pixels; a whole-scene item is cropped to such a multiple);
    ``patches`` is how many patches to keep (None: every tile); ``seed`` fixes the k-means choice.
    """

    has_reference = False

    def __init__(self, pan: str | None = None, ms: str | None = None, *, folder: str | None = None,
                 split: str = "train", sensor: str | None = None, ratio: int | None = None,
                 max_value: float | None = None, mtf_gains: Sequence[float] | None = None,
                 pan_key: str | None = None, ms_key: str | None = None, patch_size: int = 256,
                 patches: int | None = 16, alignment: int = 1, seed: int = 0,
                 task: str = "pansharpening") -> None:
        if task not in TASKS:
            raise DataError(None, f"task {task!r}: expected {' or '.join(TASKS)} (a PAN with an MS or an HS image)")
        self.task = task
        if folder is not None and (pan is not None or ms is not None):
            raise DataError(folder, "give either a 'data simulate' folder or a pan + ms pair, not both")
        if patches is not None and patches < 1:
            raise DataError(None, f"patches must be at least 1 (or None for every tile), found {patches}")
        if alignment < 1:
            raise DataError(None, f"alignment must be at least 1, found {alignment}")
        notes: list[str] = []
        if folder is not None:
            regions, settings = _folder_regions(Path(folder).expanduser(), split, notes)
            sensor = sensor if sensor is not None else settings["sensor"]
            ratio, scenes = settings["ratio"], settings["scenes"]
            max_value = max_value if max_value is not None else settings["max_value"]
            mtf_gains = mtf_gains if mtf_gains is not None else settings["mtf_gains"]
        else:
            if pan is None or ms is None:
                raise DataError(None, "name the scene: pan and ms (two image files), or folder (a 'rsmif data "
                                "simulate' output)")
            if sensor is None:
                raise DataError(None, "sensor: name the sensor of the scene (for its MTF filter and scale; "
                                "'none' for generic gains)")
            pan_raster, ms_raster = read_raster(pan, pan_key), read_raster(ms, ms_key)
            ratio = check_pair(pan_raster, ms_raster, ratio)
            scene = prepare_scene(f"{pan_raster.path.name} + {ms_raster.path.name}", pan_raster, ms_raster, ratio,
                                  notes)
            scenes = [(pan_raster, ms_raster)]
            regions = [_Region(scene, (scene.extent.top, scene.extent.bottom), (scene.extent.left, scene.extent.right))]
        self.sensor = str(sensor)
        self.ratio = int(ratio)
        self.max_value = radiometric_scale(self.sensor, max_value, scenes)
        first = regions[0].scene
        self.spectral_bands, self.guide_bands = int(first.ms_full.shape[0]), int(first.pan_full.shape[0])
        self.mtf_gains = resolve_mtf_gains(self.sensor, self.spectral_bands, mtf_gains, label="mtf_gains").gains
        self.notes = notes
        step = math.lcm(self.ratio, alignment)
        if patch_size < step or patch_size % step:
            raise DataError(None, f"patch_size {patch_size} must be a multiple of {step} (the ratio {self.ratio}"
                            + (f" and the model's alignment {alignment})" if step != self.ratio else ")"))
        self._regions = regions
        self._items = _choose_items(regions, patch_size // self.ratio, step // self.ratio, patches, seed)
        self._lms = [upsample_lms(region.scene.ms_full, self.ratio) for region in regions]

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self._items[index]
        scene, r = self._regions[item.region].scene, self.ratio
        ms_rows, ms_cols = slice(item.top, item.top + item.height), slice(item.left, item.left + item.width)
        pan_rows = slice(item.top * r, (item.top + item.height) * r)
        pan_cols = slice(item.left * r, (item.left + item.width) * r)
        scale = 1.0 / self.max_value

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(array * scale, dtype=np.float32))

        return {
            "pan": tensor(scene.pan_full[:, pan_rows, pan_cols]),
            "ms": tensor(scene.ms_full[:, ms_rows, ms_cols]),
            "lms": tensor(self._lms[item.region][:, pan_rows, pan_cols]),
            "gt": None,
            "id": f"{scene.pan.path.stem}/{item.top * r}_{item.left * r}",
            "task": self.task, "sensor": self.sensor, "ratio": self.ratio, "max_value": self.max_value,
            "mtf_gains": self.mtf_gains,
        }

    def describe(self) -> dict[str, Any]:
        sizes = sorted({(i.height * self.ratio, i.width * self.ratio) for i in self._items})
        return {"items": len(self), "sizes (PAN pixels)": [f"{h}×{w}" for h, w in sizes], "sensor": self.sensor,
                "ratio": self.ratio, "max_value": self.max_value, "reference": False}


def _folder_regions(folder: Path, split: str, notes: list[str]) -> tuple[list[_Region], dict[str, Any]]:
    if split not in SPLITS:
        raise DataError(folder, f"split {split!r}: expected one of {', '.join(SPLITS)}")
    manifest = read_manifest(folder)
    ratio = int(manifest["ratio"])
    regions, scenes = [], []
    for index, entry in enumerate(manifest.get("scenes") or []):
        rows = (entry.get("rows") or {}).get(split)
        if rows is None:
            continue
        pan = read_raster(_source_path(folder, entry, "pan"), entry.get("pan_key"))
        ms = read_raster(_source_path(folder, entry, "ms"), entry.get("ms_key"))
        for role, raster in (("pan", pan), ("ms", ms)):
            recorded = entry.get(f"{role}_size")
            if recorded is not None and [raster.bands, *raster.hw] != list(recorded):
                raise DataError(raster.path, f"the {role} of scene {index + 1} in {folder} has changed since it was "
                                f"simulated: {raster.bands}×{raster.hw[0]}×{raster.hw[1]}, the manifest records "
                                f"{'×'.join(map(str, recorded))}")
        scene = prepare_scene(f"scene {index + 1}", pan, ms, ratio, notes)
        scenes.append((pan, ms))
        regions.append(_Region(scene, (int(rows[0]), int(rows[1])), tuple(entry["rows"]["columns"])))
    if not regions:
        raise DataError(folder, f"the manifest has no {split!r} rows in any scene")
    settings = {"sensor": manifest["sensor"], "ratio": ratio, "max_value": manifest.get("max_value"),
                "mtf_gains": manifest.get("mtf_gains"), "scenes": scenes}
    return regions, settings


def _source_path(folder: Path, entry: dict[str, Any], role: str) -> Path:
    path = Path(str(entry.get(role, "")))
    if not path.is_file():
        raise DataError(folder, f"the manifest's source {role} image {path} is missing: full-resolution patches "
                        "are cut from the simulated scenes themselves")
    return path


def _choose_items(regions: Sequence[_Region], tile: int, ms_step: int, patches: int | None,
                  seed: int) -> list[_Item]:
    """The whole region when there is one, it holds no no-data and is no larger than ``patches`` tiles;
    else the tiles with data, ``patches`` of them chosen by k-means when there are more."""
    if len(regions) == 1 and regions[0].fully_valid and patches is not None and regions[0].ms_area <= patches * tile * tile:
        region = regions[0]
        height = (region.rows[1] - region.rows[0]) // ms_step * ms_step
        width = (region.cols[1] - region.cols[0]) // ms_step * ms_step
        if height and width:
            return [_Item(0, region.rows[0], region.cols[0], height, width)]
    tiles = [
        _Item(index, top, left, tile, tile)
        for index, region in enumerate(regions)
        for top in range(region.rows[0], region.rows[1] - tile + 1, tile)
        for left in range(region.cols[0], region.cols[1] - tile + 1, tile)
        if region.scene.valid[top:top + tile, left:left + tile].all()
    ]
    if not tiles:
        where = regions[0].scene.label if len(regions) == 1 else f"{len(regions)} scenes"
        raise DataError(None, f"{where}: no {tile}×{tile} MS-pixel tile without no-data fits (patch_size too large for "
                        "the ground with data; choose a smaller patch_size)")
    if patches is None or len(tiles) <= patches:
        return tiles
    return [tiles[i] for i in representative_tiles(np.stack([_descriptor(regions[t.region].scene, t) for t in tiles]),
                                                   patches, seed)]


def _descriptor(scene: PreparedScene, item: _Item) -> np.ndarray:
    ms = scene.ms_full[:, item.top:item.top + item.height, item.left:item.left + item.width]
    r = scene.pan_full.shape[-1] // scene.ms_full.shape[-1]
    pan = scene.pan_full[0, item.top * r:(item.top + item.height) * r, item.left * r:(item.left + item.width) * r]
    gy, gx = np.gradient(pan)
    return np.concatenate([ms.mean(axis=(1, 2)), ms.std(axis=(1, 2)),
                           [pan.mean(), pan.std(), float(np.sqrt(gx * gx + gy * gy).mean())]])


def representative_tiles(descriptors: np.ndarray, count: int, seed: int) -> list[int]:
    """Indices of ``count`` rows of ``descriptors`` (N×D) that represent them: k-means with ``count``
    centres on the standardised descriptors, then for each centre the nearest row not yet taken."""
    from scipy.cluster.vq import kmeans2

    spread = descriptors.std(axis=0)
    features = (descriptors - descriptors.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    with warnings.catch_warnings():
        # an empty cluster is harmless here (its centre still picks its nearest tile); scipy warns about it
        warnings.simplefilter("ignore", UserWarning)
        centres, _ = kmeans2(features, count, minit="++", seed=np.random.default_rng(seed))
    taken: list[int] = []
    for centre in centres:
        distance = np.linalg.norm(features - centre, axis=1)
        distance[taken] = math.inf
        taken.append(int(np.argmin(distance)))
    return sorted(taken)
