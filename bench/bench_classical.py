"""Benchmark: the classical models of rsmif-classical against the benchmark toolbox's MATLAB code in GNU Octave,
on one 1024×1024 PAN scene per ratio (ratio 4: 4-band WorldView-2, MS 256×256; ratio 2: 6-band Landsat-7,
MS 512×512), built from the shared real scenes by symmetric extension (``numpy.pad(mode="symmetric")``).

Run as a script (never in the test suite):

    python bench/bench_classical.py [--ratios 4 2] [--repeats 3] [--threads 1] [--octave-harness DIR]
                                    [--octave-cache DIR]

Both sides fuse the same numbers (the scene rounded to float32 on the DN scale; ours receives them divided by
the max value in float64). Ours: median of ``--repeats`` forwards per model (computed in float64), with
``torch.set_num_threads(--threads)``. Octave: one run per method of the toolbox's own functions through a
harness folder outside this repository (``DIR/time_methods.m`` with the toolbox, the MATLAB-semantics
replacements of the functions Octave lacks, and the deterministic k-means, as described in
plugins/rsmif-classical/README.md; run with ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` set to
``--threads``; ``--octave-cache`` keeps its results for later runs). Without the harness only our times
are recorded. Each model's per-band mean and standard deviation are compared with Octave's (max relative
difference in the table). Results go to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import scipy.io as sio
import torch
from _results import record
from rsmif_classical import MODELS

import rsmif_core
from rsmif_core.testing import find_shared

SIZE = 1024


def _extend(a: np.ndarray, size: int) -> np.ndarray:
    """Symmetric extension (or crop) of the first two axes of ``a`` to size×size."""
    pad = [(0, max(size - a.shape[0], 0)), (0, max(size - a.shape[1], 0))] + [(0, 0)] * (a.ndim - 2)
    return np.pad(a, pad, mode="symmetric")[:size, :size]


def scene(ratio: int, shared: Path) -> tuple[np.ndarray, np.ndarray, str, float, tuple[float, ...] | None]:
    """PAN (H×W) and MS (h×w×C) on the DN scale, sensor, max value and per-band gains, for a 1024² PAN."""
    data = shared / "data"
    if ratio == 4:
        with rasterio.open(data / "wv2-spacenet6" / "pan3.tif") as f:
            pan = f.read()[0].astype(np.float64)[240:]  # rows above 240 hold no data
        with rasterio.open(data / "wv2-spacenet6" / "ms3.tif") as f:
            ms = np.moveaxis(f.read(), 0, -1)[::2, ::2].astype(np.float64)[60:]
        return _extend(pan, SIZE), _extend(ms, SIZE // 4), "WV2", 2047.0, (0.35,) * 4
    if ratio == 2:
        pan = sio.loadmat(data / "landsat7-fusebox" / "8_pan.mat")["cropped_gray"].astype(np.float64)
        ms = sio.loadmat(data / "landsat7-fusebox" / "8_ms.mat")["cropped_im"].astype(np.float64)
        return _extend(pan, SIZE), _extend(ms, SIZE // 2), "none", 255.0, None
    raise SystemExit(f"no bench scene for ratio {ratio} (2 or 4)")


def time_ours(batch: rsmif_core.Batch, repeats: int) -> dict[str, tuple[float, np.ndarray, np.ndarray]]:
    results = {}
    for name, cls in MODELS.items():
        model = cls(batch.spectral_bands, 1, batch.meta.ratio)
        times = []
        with torch.no_grad():
            for _ in range(repeats):
                start = time.perf_counter()
                fused = model(batch).fused
                times.append(time.perf_counter() - start)
        dn = fused[0].double().flatten(1) * batch.meta.max_value
        results[name] = (statistics.median(times), dn.mean(1).numpy(), dn.std(1).numpy())
        print(f"ours {name:14s} {results[name][0]:8.3f} s", flush=True)
    return results


def time_octave(
    harness: Path, pan: np.ndarray, ms: np.ndarray, ratio: int, sensor: str, threads: int, cache: Path | None
) -> dict[str, tuple[float, np.ndarray, np.ndarray]]:
    """Octave's times and band statistics; with ``cache``, read from ``cache/octave_ratio<r>.mat`` when it is
    there (the toolbox's times do not change with our code) and written there after a run."""
    cached = None if cache is None else cache / f"octave_ratio{ratio}.mat"
    if cached is not None and cached.is_file():
        return _read_octave(cached)
    with tempfile.TemporaryDirectory() as tmp:
        infile = Path(tmp) / "in.mat"
        outfile = cached if cached is not None else Path(tmp) / "out.mat"
        sio.savemat(infile, dict(I_PAN=pan, I_MS_LR=ms, ratio=float(ratio), sensor=sensor))
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        subprocess.run(["octave-cli", "--eval", f"cd('{harness}'); time_methods('{infile}', '{outfile}')"], check=True, env=env)
        out = {k: v for k, v in sio.loadmat(outfile).items() if not k.startswith("__")}
        out["load"] = os.getloadavg()[0]
        sio.savemat(outfile, out)
        return _read_octave(outfile)


def _read_octave(path: Path) -> dict[str, tuple[float, np.ndarray, np.ndarray]]:
    """Per method: time, band means, band stds; under the key ``"load"`` the load average after the run."""
    out = sio.loadmat(path)
    names = [str(m[0]).strip() for m in out["methods"].ravel()]
    results = {n: (float(out["times"][i, 0]), out["means"][i], out["stds"][i]) for i, n in enumerate(names)}
    results["load"] = (float(out["load"].item()) if "load" in out else float("nan"), np.zeros(0), np.zeros(0))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratios", type=int, nargs="+", default=[4, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--octave-harness", type=Path, default=os.environ.get("RSMIF_TOOLBOX_HARNESS"))
    parser.add_argument("--octave-cache", type=Path, default=None, help="folder that keeps Octave's results between runs")
    args = parser.parse_args()
    shared = find_shared(__file__)
    if shared is None:
        raise SystemExit("the shared data folder was not found (set RSMIF_SHARED)")
    torch.set_num_threads(args.threads)
    for ratio in args.ratios:
        pan, ms, sensor, scale, gains = scene(ratio, shared)
        # the values the toolbox receives (float32 DN), in float64 so that both sides fuse the same numbers
        pan = pan.astype(np.float32).astype(np.float64)
        ms = ms.astype(np.float32).astype(np.float64)
        ms_t = torch.from_numpy(ms.transpose(2, 0, 1)[None] / scale)
        meta = rsmif_core.BatchMeta(sensor=sensor, ratio=ratio, max_value=scale, mtf_gains=gains)
        batch = rsmif_core.Batch(
            pan=torch.from_numpy(pan[None, None] / scale), ms=ms_t, lms=rsmif_core.interp23tap(ms_t, ratio), meta=meta
        )
        ours = time_ours(batch, args.repeats)
        octave = None
        if args.octave_harness:
            octave = time_octave(Path(args.octave_harness), pan, ms, ratio, sensor, args.threads, args.octave_cache)
        rows = ["| method | ours (s) | Octave (s) | Octave / ours | max rel. diff of band mean, std |", "|---|---|---|---|---|"]
        octave_load = octave.pop("load")[0] if octave is not None else float("nan")
        for name, (t, mean, std) in ours.items():
            if octave is None:
                rows.append(f"| {name} | {t:.3f} | – | – | – |")
                continue
            t_oct, mean_oct, std_oct = octave[name]
            diff = max(np.abs(mean - mean_oct).max() / np.abs(mean_oct).max(), np.abs(std - std_oct).max() / np.abs(std_oct).max())
            rows.append(f"| {name} | {t:.3f} | {t_oct:.2f} | {t_oct / t:.1f}× | {diff:.1e} |")
        if octave is not None:
            total, total_oct = sum(v[0] for v in ours.values()), sum(v[0] for v in octave.values())
            rows.append(f"| **all 17** | {total:.2f} | {total_oct:.1f} | {total_oct / total:.1f}× | |")
        bands = ms.shape[2]
        note = (f"PAN {SIZE}×{SIZE}, MS {SIZE // ratio}×{SIZE // ratio}×{bands}, ratio {ratio}, sensor {sensor}; "
                f"ours: median of {args.repeats}, {args.threads} thread(s); Octave 7.3: one run, {args.threads} BLAS thread(s), "
                f"load average {octave_load:.1f} after its run.")
        record(f"bench_classical ratio {ratio}", note + "\n\n" + "\n".join(rows))
        print("\n".join(rows))


if __name__ == "__main__":
    main()
