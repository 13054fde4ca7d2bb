"""Benchmark ``rsmif predict`` on a whole scene: peak memory, time against the bare forward pass, seams.

1. Scene: an 8192×8192 uint16 PAN (0.5 m) and a 2048×2048×8 uint16 MS (2 m) GeoTIFF pair in EPSG:32631, tiled and
   compressed, written strip by strip (textured, 11-bit; a 300-pixel PAN block and a 40-pixel MS block are nodata).
2. Run folders: ``rsmif run`` trains each model (PNN, RAMSF) for ``--steps`` steps on the synthetic 8-band ratio-4
   sample scene; the point is the prediction, not the weights.
3. ``rsmif predict RUN --pan --ms --out`` (float32 output) in a child process: wall time, CPU time and the child's
   peak RSS (``wait4``); the output's CRS and transform against the PAN's.
4. Seams: a 1024×1024 window (PAN and MS cut out as their own GeoTIFFs) predicted on its own, against the same
   window of the whole-scene output, more than ``--border`` pixels from the window's edges: max |difference| in
   model units (value / max_value).
5. Speed: the model's bare forward pass (random inputs already in memory, no reading, upsampling or writing) on
   (a) the same windows predict computes (core + 2·margin), (b) the scene's own pixels (1024-pixel cores, no
   margin); on ``--bare-tiles`` of them, scaled to the scene. Ratio = predict wall time / bare time. On a shared
   machine these single runs swing with the load; ``--speed`` compares instead, in one process, the prediction of
   a crop and the bare forward pass over the same windows, alternating, ``--pairs`` times (median ratio).

Usage::

    python bench/bench_predict.py [--work /work/scratch/predict/bench] [--models pnn ramsf] [--steps 5]
                                  [--tile 1024 512] [--bare-tiles 0 8]
    python bench/bench_predict.py --speed [--speed-size 4096 2048] [--pairs 3] [--record]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _results import record

RATIO, BANDS, MAX_VALUE = 4, 8, 2047
SIZE = 8192  # --size
STRIP = 512
WINDOW = (2048, 3072, 1024)  # row, column, size of the seam check window (multiples of 4: on the MS grid); --size sets it


def write_scene(folder: Path) -> tuple[Path, Path]:
    """The PAN/MS pair, generated strip by strip (never a whole image in memory)."""
    import rasterio
    from rasterio.crs import CRS
    from rasterio.transform import Affine

    folder.mkdir(parents=True, exist_ok=True)
    pan_path, ms_path = folder / "pan.tif", folder / "ms.tif"
    if pan_path.is_file() and ms_path.is_file():
        return pan_path, ms_path
    x0, y0 = 593000.0, 5750400.0
    common = {"driver": "GTiff", "dtype": "uint16", "crs": CRS.from_epsg(32631), "tiled": True, "blockxsize": 512,
              "blockysize": 512, "compress": "deflate", "predictor": 2, "nodata": 0, "BIGTIFF": "IF_SAFER"}
    gains = np.linspace(0.6, 1.2, BANDS, dtype=np.float32)[:, None, None]
    cols = np.arange(SIZE, dtype=np.float32)[None, :]
    with rasterio.open(pan_path.with_suffix(".part"), "w", height=SIZE, width=SIZE, count=1,
                       transform=Affine(0.5, 0, x0, 0, -0.5, y0), **common) as pan_dst, \
         rasterio.open(ms_path.with_suffix(".part"), "w", height=SIZE // RATIO, width=SIZE // RATIO, count=BANDS,
                       transform=Affine(2.0, 0, x0, 0, -2.0, y0), **common) as ms_dst:
        for row0 in range(0, SIZE, STRIP):
            rng = np.random.default_rng(row0)
            rows = np.arange(row0, row0 + STRIP, dtype=np.float32)[:, None]
            base = (0.5 + 0.2 * np.sin(cols / 23.0 + 0.3 * rows / 17.0) * np.cos(rows / 41.0)
                    + 0.1 * np.sin(cols / 311.0) + 0.08 * rng.standard_normal((STRIP, SIZE), dtype=np.float32))
            high = np.clip(base[None] * gains + 0.04 * rng.standard_normal((BANDS, STRIP, SIZE), dtype=np.float32), 0, 1)
            pan = np.clip(np.rint(high.mean(0) * MAX_VALUE), 1, MAX_VALUE).astype(np.uint16)
            ms = high.reshape(BANDS, STRIP // RATIO, RATIO, SIZE // RATIO, RATIO).mean(axis=(2, 4))
            ms = np.clip(np.rint(ms * MAX_VALUE), 1, MAX_VALUE).astype(np.uint16)
            if row0 == 0:
                pan[:300, :300] = 0  # nodata blocks
                ms[:, 10:50, SIZE // RATIO * 3 // 4 : SIZE // RATIO * 3 // 4 + 40] = 0
            window = rasterio.windows.Window(0, row0, SIZE, STRIP)
            pan_dst.write(pan[None], window=window)
            ms_dst.write(ms, window=rasterio.windows.Window(0, row0 // RATIO, SIZE // RATIO, STRIP // RATIO))
    os.replace(pan_path.with_suffix(".part"), pan_path)
    os.replace(ms_path.with_suffix(".part"), ms_path)
    return pan_path, ms_path


def cut_window(pan_path: Path, ms_path: Path, folder: Path) -> tuple[Path, Path]:
    """The seam-check window of both images as GeoTIFFs of their own (with the window's transform)."""
    import rasterio
    from rasterio.windows import Window

    folder.mkdir(parents=True, exist_ok=True)
    row, col, size = WINDOW
    out = []
    for path, scale in ((pan_path, 1), (ms_path, RATIO)):
        with rasterio.open(path) as src:
            window = Window(col // scale, row // scale, size // scale, size // scale)
            profile = {**src.profile, "height": size // scale, "width": size // scale,
                       "transform": src.window_transform(window)}
            target = folder / path.name
            with rasterio.open(target, "w", **profile) as dst:
                dst.write(src.read(window=window))
        out.append(target)
    return out[0], out[1]


def train_run(model: str, folder: Path, steps: int) -> Path:
    if (folder / "model.safetensors").is_file():
        return folder
    import yaml

    args: dict[str, Any] = {"task": "pansharpening", "scene": "synthetic", "bands": BANDS, "ratio": RATIO, "split": "train"}
    cfg = {
        "model": {"name": model},
        "data": {"train": {"name": "sample", "args": args, "batch_size": 4}},
        "trainer": {"max_steps": steps, "output_dir": str(folder), "log_images": False, "progress": False,
                    "val_every": 10_000, "checkpoint_every": 10_000},
    }
    cfg_path = folder.with_suffix(".yaml")
    folder.parent.mkdir(parents=True, exist_ok=True)
    cfg_path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "rsmif_core.cli", "run", str(cfg_path)], check=True)
    return folder


def run_child(args: list[str]) -> dict[str, Any]:
    """Run ``python -m rsmif_core.cli ARGS``; its wall time, CPU time and peak RSS (MiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "rsmif_core.cli", *args])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"rsmif {' '.join(args)} failed with status {os.waitstatus_to_exitcode(status)}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024}


def georef_equal(out: Path, pan: Path) -> bool:
    import rasterio

    with rasterio.open(out) as a, rasterio.open(pan) as b:
        return a.crs == b.crs and a.transform == b.transform and (a.height, a.width) == (b.height, b.width)


def window_difference(whole: Path, window: Path, border: int) -> float:
    """Max |whole-scene output − window prediction| / max_value over the window's interior (nodata on both: equal)."""
    import rasterio
    from rasterio.windows import Window

    row, col, size = WINDOW
    with rasterio.open(whole) as a, rasterio.open(window) as b:
        x = a.read(window=Window(col, row, size, size)).astype(np.float64)
        y = b.read().astype(np.float64)
    inner = (slice(None), slice(border, size - border), slice(border, size - border))
    x, y = x[inner], y[inner]
    both_nan = np.isnan(x) & np.isnan(y)
    diff = np.where(both_nan, 0.0, np.abs(x - y))
    return float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)) / MAX_VALUE)


def bare_forward(model_name: str, run: Path, windows: list[tuple[int, int]], count: int, repeat_of: int
                 ) -> dict[str, float]:
    """Seconds of the bare forward pass over ``count`` windows of each listed size, scaled to ``repeat_of`` windows."""
    import torch

    from rsmif_core.models.weights import load_weights
    from rsmif_core.plugins.factory import create_model
    from rsmif_core.types import Batch, BatchMeta

    state, meta = load_weights(run / "model.safetensors")
    model = create_model(model_name, spectral_bands=BANDS, guide_bands=1, ratio=RATIO, **meta["arguments"])
    model.load_state_dict(state)
    model.eval()
    result = {}
    for height, width in windows:
        g = torch.Generator().manual_seed(0)
        pan = torch.rand(1, 1, height, width, generator=g)
        ms = torch.rand(1, BANDS, height // RATIO, width // RATIO, generator=g)
        lms = torch.rand(1, BANDS, height, width, generator=g)
        batch = Batch(pan=pan, ms=ms, lms=lms, meta=BatchMeta(ratio=RATIO, max_value=MAX_VALUE))
        cpu0, started = time.process_time(), time.perf_counter()
        with torch.inference_mode():
            for _ in range(count):
                model(batch).fused.sum().item()
        scale = repeat_of / count
        result[f"{height}x{width}"] = (time.perf_counter() - started) * scale
        result[f"{height}x{width}_cpu"] = (time.process_time() - cpu0) * scale
    return result


def speed_pairs(name: str, run: Path, pan: Path, ms: Path, work: Path, tile: int, batch: int, pairs: int
                ) -> dict[str, Any]:
    """Alternate, in this process, the whole prediction (``run_prediction``: read, upsample, infer, write, fsync,
    rename) and the bare forward pass over the same windows (same count and shape, random tensors made beforehand):
    ``pairs`` of each, the order swapped every pair; the median ratio in wall and in CPU time (all threads)."""
    import statistics

    import torch

    from rsmif_core.run.predict import PredictRequest, prepare_prediction, run_prediction
    from rsmif_core.types import Batch, BatchMeta

    out = work / f"speed_{name}.tif"
    setup = prepare_prediction(PredictRequest(str(run), pan, ms, out, tile=tile, batch_size=batch, overwrite=True,
                                              dtype="float32"))
    height, width = setup.plan.window
    g = torch.Generator().manual_seed(0)
    batches = -(-len(setup.plan) // batch)
    inputs = Batch(pan=torch.rand(batch, 1, height, width, generator=g),
                   ms=torch.rand(batch, BANDS, height // RATIO, width // RATIO, generator=g),
                   lms=torch.rand(batch, BANDS, height, width, generator=g), meta=BatchMeta(ratio=RATIO, max_value=MAX_VALUE))

    def bare() -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        with torch.inference_mode():
            for _ in range(batches):
                setup.model(inputs).fused.sum().item()
        return time.perf_counter() - wall, time.process_time() - cpu

    def full() -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        stats = run_prediction(setup)
        parts.append(stats)
        return time.perf_counter() - wall, time.process_time() - cpu

    parts: list[Any] = []
    walls, cpus, loads = [], [], []
    for i in range(pairs):
        loads.append(os.getloadavg()[0])
        first, second = (bare, full) if i % 2 == 0 else (full, bare)
        a, b = first(), second()
        (bw, bc), (fw, fc) = (a, b) if first is bare else (b, a)
        walls.append(fw / bw)
        cpus.append(fc / bc)
        print(f"{name} pair {i}: predict {fw:.1f} s ({fc:.1f} CPU s), bare {bw:.1f} s ({bc:.1f} CPU s)", flush=True)
    out.unlink(missing_ok=True)
    last = parts[-1]
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus), "walls": walls, "cpus": cpus,
            "tiles": len(setup.plan), "window": f"{height}×{width}", "load": statistics.mean(loads),
            "computed": setup.plan.computed_pixels / (setup.plan.height * setup.plan.width),
            "model": last.seconds_model, "read": last.seconds_read, "write": last.seconds_write,
            "seconds": last.seconds}


def speed_main(opts: argparse.Namespace) -> None:
    pan, ms = write_scene(opts.work / "scene8192")
    rows = []
    for i, name in enumerate(opts.models):
        tile = opts.tile[min(i, len(opts.tile) - 1)]
        size = opts.speed_size[min(i, len(opts.speed_size) - 1)]
        crop = opts.work / f"speed{size}"
        global WINDOW
        WINDOW = (0, 0, size)
        crop_pan, crop_ms = cut_window(pan, ms, crop)
        run = train_run(name, opts.work / f"run_{name}", opts.steps)
        r = speed_pairs(name, run, crop_pan, crop_ms, opts.work, tile, opts.batch_size, opts.pairs)
        rows.append(f"| {name} | {size}² | {tile} | {r['window']} × {r['tiles']} | {r['computed']:.3f} | "
                    f"{' '.join(f'{x:.3f}' for x in r['walls'])} | **{r['wall']:.3f}** | "
                    f"{' '.join(f'{x:.3f}' for x in r['cpus'])} | **{r['cpu']:.3f}** | "
                    f"{r['model']:.0f} / {r['read']:.0f} / {r['write']:.0f} of {r['seconds']:.0f} | {r['load']:.1f} |")
        print(rows[-1], flush=True)
    header = (
        "Speed of `rsmif predict` against the model's bare forward pass on the same windows (same count, shape and "
        f"batch {opts.batch_size}; random tensors made beforehand), in one process, alternating (the order swapped "
        "every pair), float32 output, on the top-left crop of the 8192² scene. Ratio = predict / bare; the "
        "median over pairs is in bold. 'computed' = pixels the model computes / pixels written (the margins' cost, "
        "on top of the ratio). Thread times (model / read / write of the last predict) overlap.\n\n"
        "| model | crop | core | windows | computed | wall ratios | median | CPU ratios | median | "
        "model / read / write of total s | load avg |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    table = header + "\n" + "\n".join(rows)
    if opts.record:
        record("bench_predict speed (cpu)", table)
    else:
        print(table)


def main() -> None:
    global SIZE, WINDOW
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("bench-predict-work"),
                        help="folder for the generated scenes, runs and outputs (several GB at 8192²)")
    parser.add_argument("--models", nargs="+", default=["pnn", "ramsf"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--tile", type=int, nargs="+", default=[1024, 512],
                        help="core size per model (RAMSF's forward pass alone peaks at 1.3 GB on 1064² windows)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--border", type=int, default=64, help="pixels of the window's edge left out of the seam check")
    parser.add_argument("--bare-tiles", type=int, nargs="+", default=[0],
                        help="windows timed for the bare forward pass, per model (0: as many as predict computes)")
    parser.add_argument("--skip-predict", action="store_true", help="reuse the outputs of an earlier run")
    parser.add_argument("--size", type=int, default=SIZE, help="PAN pixels per side (a multiple of 512; 8192 for the figures)")
    parser.add_argument("--speed", action="store_true", help="only the alternating speed comparison (on crops)")
    parser.add_argument("--speed-size", type=int, nargs="+", default=[4096, 2048], help="crop side per model")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="write the speed table into bench/RESULTS.md")
    opts = parser.parse_args()
    if opts.speed:
        speed_main(opts)
        return
    SIZE = opts.size
    WINDOW = (SIZE // 4, SIZE * 3 // 8, min(1024, SIZE // 2))

    pan, ms = write_scene(opts.work / f"scene{SIZE}")
    win_pan, win_ms = cut_window(pan, ms, opts.work / f"window{SIZE}")
    rows_file = opts.work / f"rows{SIZE}.json"  # rows of every model benchmarked so far, recorded together
    rows: dict[str, str] = json.loads(rows_file.read_text()) if rows_file.is_file() else {}
    for i, name in enumerate(opts.models):
        bare_tiles = opts.bare_tiles[min(i, len(opts.bare_tiles) - 1)]
        tile = opts.tile[min(i, len(opts.tile) - 1)]
        run = train_run(name, opts.work / f"run_{name}", opts.steps)
        out, out_window = opts.work / f"fused{SIZE}_{name}.tif", opts.work / f"fused{SIZE}_{name}_window.tif"
        common = ["--dtype", "float32", "--tile-size", str(tile), "--batch-size", str(opts.batch_size),
                  "--overwrite", "--no-progress"]
        stats_file = opts.work / f"predict{SIZE}_{name}.json"
        stats: dict[str, Any]
        if opts.skip_predict and stats_file.is_file():
            stats = json.loads(stats_file.read_text())
        else:
            load_before = os.getloadavg()[0]
            stats = run_child(["predict", str(run), "--pan", str(pan), "--ms", str(ms), "--out", str(out), *common])
            stats["load"] = (load_before + os.getloadavg()[0]) / 2
            stats["window"] = run_child(["predict", str(run), "--pan", str(win_pan), "--ms", str(win_ms), "--out",
                                         str(out_window), *common])
            stats_file.write_text(json.dumps(stats))
        import torch

        from rsmif_core.plugins.factory import create_model

        probe = create_model(name, spectral_bands=BANDS, guide_bands=1, ratio=RATIO)
        alignment = math.lcm(probe.tile_alignment, RATIO)
        margin = -(-int(probe.receptive_field or 32) // alignment) * alignment
        window_size = tile + 2 * margin
        tiles = math.ceil(SIZE / tile) ** 2
        count = tiles if bare_tiles == 0 else bare_tiles
        load_before = os.getloadavg()[0]
        bare = bare_forward(name, run, [(window_size, window_size), (tile, tile)], count, tiles)
        load = (load_before + os.getloadavg()[0]) / 2
        same = bare[f"{window_size}x{window_size}"]
        own = bare[f"{tile}x{tile}"]
        rows[name] = (
            f"| {name} | {stats['rss_mib']:.0f} | {stats['wall']:.0f} | {stats['cpu']:.0f} | "
            f"{'yes' if georef_equal(out, pan) else 'NO'} | {window_difference(out, out_window, opts.border):.2e} | "
            f"{window_size}² × {tiles} | {same:.0f} ({bare[f'{window_size}x{window_size}_cpu']:.0f}) | "
            f"{stats['wall'] / same:.3f} | {own:.0f} ({bare[f'{tile}x{tile}_cpu']:.0f}) | "
            f"{stats['wall'] / own:.3f} | {stats.get('load', float('nan')):.1f} / {load:.1f} | {tile} | "
            f"{count if bare_tiles else 'all'} |"
        )
        print(rows[name], flush=True)
        rows_file.write_text(json.dumps(rows))
        del torch
    header = (
        f"`rsmif predict` on an {SIZE}×{SIZE} uint16 PAN + {SIZE // RATIO}×{SIZE // RATIO}×{BANDS} MS (ratio {RATIO}), "
        f"float32 output, batch {opts.batch_size}, CPU (torch threads: default). Peak RSS of "
        "the predict process; times in seconds (CPU seconds in brackets); bare = the model's forward pass alone "
        "on random tensors in memory, on the windows predict computes (same) or on the scene's pixels in "
        "core-sized tiles without margin (own), timed on the listed number of tiles and scaled to the scene. "
        f"Window: the {WINDOW[2]}² window at row {WINDOW[0]}, column {WINDOW[1]} predicted on its own against the "
        f"whole-scene output, {opts.border} px from its edges left out (model units).\n\n"
        "| model | peak RSS MiB | predict s | predict CPU s | CRS+transform = PAN | window max diff | windows | "
        "bare, same windows | ratio | bare, scene pixels | ratio | load avg predict / bare | core | bare tiles timed |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    table = header + "\n" + "\n".join(rows.values())
    if SIZE == 8192:
        record("bench_predict (cpu)", table)
    else:  # a trial at another size: printed, not recorded
        print(table)


if __name__ == "__main__":
    main()
