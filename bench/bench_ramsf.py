"""Benchmark: RSMIF's RAMSF against the authors' code, interleaved in one run (CPU, float32, 2 threads).

    python bench/bench_ramsf.py --authors /tmp/scratch_ramsf     # or RAMSF_AUTHORS=/tmp/scratch_ramsf

``--authors`` is a checkout of JUSTM0VE0N/RAMSF (or RSMIF_Project) kept OUTSIDE this repository; its
``models/MSIP/RAMSF.py`` is imported by path. At runtime only, ``torch.Tensor.cuda`` becomes the identity
and the unused ``thop``/``torchsummary``/``einops`` imports are stubbed; the file is never modified.

Measures (same weights in both models, outputs compared first):
* training step: forward + backward + Adam, batch 8, PAN 64×64, WV3 (8 + 1 bands);
* inference: one 256×256 PAN (the authors' model built with H = W = 256, the only size it accepts);
* peak memory: peak RSS (VmHWM) of a fresh subprocess doing one warm-up and one measured call, minus its
  RSS just before (so imports and weights do not count), for each model and workload.
Repeats are interleaved (ours, theirs, ours, …); the minimum and the median wall-clock times are reported,
and the process CPU time of each call (on a loaded machine, CPU time on one thread tracks the work done
better than wall time; with two threads it also counts the time a thread spins waiting for the other).
``--threads N`` (default 2, the target's setting) sets torch's thread count.
``--recompute all,first,none`` times (and measures the memory of) ours with each setting of the query's
RECOMPUTE switch in the same interleaved training run; the default is the committed setting.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rsmif_ramsf.query as ramsf_query
import torch
import torch.nn.functional as F
from rsmif_ramsf import RAMSF

DEFAULT_THREADS = 2
TRAIN_BATCH, TRAIN_SIZE, INFER_SIZE, RATIO = 8, 64, 256, 4
SPECTRAL, GUIDE = 8, 1


def load_authors(root: Path) -> Any:
    source = root / "models" / "MSIP" / "RAMSF.py"
    if not source.is_file():
        raise SystemExit(f"bench_ramsf: {source} not found; pass --authors PATH (a JUSTM0VE0N/RAMSF checkout outside this repo)")
    for name in ("thop", "torchsummary", "einops"):
        stub = types.ModuleType(name)
        stub.profile = stub.summary = stub.rearrange = None  # type: ignore[attr-defined]
        sys.modules.setdefault(name, stub)
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # type: ignore[method-assign]
    spec = importlib.util.spec_from_file_location("authors_ramsf", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inputs(batch: int, size: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    pan = torch.rand(batch, GUIDE, size, size, generator=g)
    ms = torch.rand(batch, SPECTRAL, size // RATIO, size // RATIO, generator=g)
    lms = F.interpolate(ms, scale_factor=RATIO, mode="bicubic", align_corners=False)
    gt = torch.rand(batch, SPECTRAL, size, size, generator=g)
    return pan, lms, ms, gt


def build(which: str, authors: Any, size: int) -> tuple[torch.nn.Module, Callable[..., torch.Tensor]]:
    torch.manual_seed(0)
    theirs = authors.Network(None, n_select_bands=GUIDE, n_bands=SPECTRAL, H=size, W=size)
    if which == "theirs":
        return theirs, theirs
    ours = RAMSF(SPECTRAL, GUIDE, RATIO)
    ours.load_authors_state_dict(theirs.state_dict())
    return ours, ours.fuse


def workload(which: str, authors: Any, kind: str) -> Callable[[], None]:
    if kind == "train":
        net, call = build(which, authors, TRAIN_SIZE)
        pan, lms, ms, gt = inputs(TRAIN_BATCH, TRAIN_SIZE, seed=1)
        opt = torch.optim.Adam(net.parameters(), lr=3e-4, betas=(0.9, 0.999), eps=1e-8)
        net.train()

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            F.l1_loss(call(pan, lms, ms), gt).backward()
            opt.step()

        return step
    net, call = build(which, authors, INFER_SIZE)
    pan, lms, ms, _ = inputs(1, INFER_SIZE, seed=2)
    net.eval()

    def infer() -> None:
        with torch.no_grad():
            call(pan, lms, ms)

    return infer


def status_mib(field: str) -> float:
    """A memory line of /proc/self/status (VmRSS now, VmHWM peak). ru_maxrss is not used: Linux keeps it
    across fork + exec, so a child would report its parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def with_recompute(mode: str, run: Callable[[], None]) -> Callable[[], None]:
    """``run`` with the query's RECOMPUTE switch set to ``mode`` (so several modes interleave in one run)."""

    def wrapped() -> None:
        ramsf_query.RECOMPUTE = mode
        run()

    return wrapped


def memory_child(which: str, kind: str, authors_root: Path, recompute: str, threads: int) -> None:
    torch.set_num_threads(threads)
    ramsf_query.RECOMPUTE = recompute
    run = workload(which, load_authors(authors_root), kind)
    before = status_mib("VmRSS")
    run()
    run()
    print(json.dumps({"peak_mib": status_mib("VmHWM"), "before_mib": before}))


def peak_memory(which: str, kind: str, authors_root: Path, recompute: str, threads: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--authors", str(authors_root), "--recompute", recompute, "--threads", str(threads),
           "--memory-child", which, kind]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    result: dict[str, float] = json.loads(out)
    result["growth_mib"] = result["peak_mib"] - result["before_mib"]
    return result


def check_agreement(authors: Any) -> float:
    worst = 0.0
    for size, batch in ((TRAIN_SIZE, 2), (INFER_SIZE, 1)):
        theirs, call_theirs = build("theirs", authors, size)
        _, call_ours = build("ours", authors, size)
        pan, lms, ms, _ = inputs(batch, size, seed=3)
        theirs.eval()
        with torch.no_grad():
            ref = call_theirs(pan, lms, ms)
            worst = max(worst, float((call_ours(pan, lms, ms) - ref).abs().max() / ref.abs().max()))
    return worst


def interleaved(runs: dict[str, Callable[[], None]], repeats: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall-clock and process CPU seconds of every call, repeats interleaved across ``runs``."""
    wall: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    for run in runs.values():  # warm-up
        run()
    for _ in range(repeats):
        for name, run in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--authors", default=os.environ.get("RAMSF_AUTHORS"), help="authors' checkout (or RAMSF_AUTHORS)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="torch threads (the target is set at 2)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--recompute", default=str(ramsf_query.RECOMPUTE),
                        help="comma-separated RECOMPUTE modes of ours to time in training (all, first, none); "
                             "default: the committed one")
    parser.add_argument("--memory-child", nargs=2, metavar=("WHICH", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.authors:
        raise SystemExit("bench_ramsf: the authors' code is needed: pass --authors PATH or set RAMSF_AUTHORS "
                         "(a checkout of JUSTM0VE0N/RAMSF outside this repository)")
    root = Path(args.authors)
    if args.memory_child:
        which, kind = args.memory_child
        memory_child(which, kind, root, args.recompute, args.threads)
        return
    modes = args.recompute.split(",")
    default_mode = str(ramsf_query.RECOMPUTE)
    torch.set_num_threads(args.threads)
    authors = load_authors(root)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, CPU; load average at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"max |ours - theirs| / max |theirs| on random inputs (64 and 256 px): {check_agreement(authors):.2e}")
    for kind, label in (("train", f"training step (batch {TRAIN_BATCH}, PAN {TRAIN_SIZE}², fwd+bwd+Adam)"),
                        ("infer", f"inference (1 × PAN {INFER_SIZE}²)")):
        kind_modes = modes if kind == "train" else [default_mode]  # inference keeps nothing for backward
        runs = {f"ours[{m}]": with_recompute(m, workload("ours", authors, kind)) for m in kind_modes}
        runs["theirs"] = workload("theirs", authors, kind)
        t, cpu = interleaved(runs, args.repeats)
        ramsf_query.RECOMPUTE = default_mode
        best = {k: min(v) for k, v in t.items()}
        med = {k: statistics.median(v) for k, v in t.items()}
        best_cpu = {k: min(v) for k, v in cpu.items()}
        for m in kind_modes:
            ours = f"ours[{m}]"
            print(f"{label}: {ours} {best[ours]:.3f} s (median {med[ours]:.3f}), theirs {best['theirs']:.3f} s "
                  f"(median {med['theirs']:.3f}); speed-up {best['theirs'] / best[ours]:.2f}× (min), "
                  f"{med['theirs'] / med[ours]:.2f}× (median); CPU time ours {best_cpu[ours]:.3f} s, theirs "
                  f"{best_cpu['theirs']:.3f} s (min), ratio {best_cpu['theirs'] / best_cpu[ours]:.2f}×")
        if not args.skip_memory:
            theirs_mem = peak_memory("theirs", kind, root, default_mode, args.threads)
            for m in kind_modes:
                mine = peak_memory("ours", kind, root, m, args.threads)
                print(f"{label}: peak RSS growth ours[{m}] {mine['growth_mib']:.0f} MiB, theirs {theirs_mem['growth_mib']:.0f} MiB "
                      f"(ratio {mine['growth_mib'] / max(theirs_mem['growth_mib'], 1e-9):.2f}); "
                      f"peak RSS ours {mine['peak_mib']:.0f} MiB, theirs {theirs_mem['peak_mib']:.0f} MiB")
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
