"""Local-window attention (RSANet's SA, MMAPP's ACmix path), forward + backward, on moderate and peaked logits.

    python bench/bench_attention.py [--threads 2] [--repeats 7] [--record]

One SA layer of RSANet's training step: batch 8 × 64², 32 input channels, q/k/v from a 1×1 convolution, 3
heads of 3 channels, 7×7 windows, with the positional term. The 1×1 weights are drawn with two scales: 0.1
(logits of a few units, like a fresh network) and 1.0 (logits of tens to hundreds: a peaked softmax, where most
window terms are tiny). Timed: the fused CPU kernels (``impl="fused"``) against the
strided-view torch ops (``impl="views"``), interleaved in one process; printed: min and median ms and the ratio
views / fused per scale.

A second table times the fused layer (weight scale 0.1) at MMAPP's and RSANet's sizes (batch 8 × 16², 32², 64²) as
the kernels' parallel parts ran before and as they run now: on a worker pool of their own with parts of at least
2^14 pixels, on PyTorch's OpenMP threads with the same parts, and on PyTorch's OpenMP threads with the current
smallest part (``MIN_PART_PIXELS``); printed: min and median ms and the ratio former / each per size.

The fused kernels take 2**x below 2**-64 as 0; before they did, the subnormal products of the peaked case
ran the backward several times slower (see the ``_EXP2_CUTOFF`` comment in rsmif_core/ops/_window_kernels.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from rsmif_core import local_window_attention, position_grid
from rsmif_core.ops import _window_kernels, threads

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import recorded  # noqa: E402

BATCH, CHANNELS, SIZE, HEADS, HEAD_DIM, KERNEL = 8, 32, 64, 3, 3, 7


def make_step(impl: str, scale: float, size: int = SIZE) -> Callable[[], None]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, CHANNELS, size, size, generator=g)
    c = HEADS * HEAD_DIM
    weight = (torch.randn(3 * c, CHANNELS, 1, 1, generator=g) * scale).requires_grad_()
    position = (torch.randn(HEAD_DIM, 2, 1, 1, generator=g) * scale).requires_grad_()
    grid = position_grid(size, size)

    def step() -> None:
        q, k, v = F.conv2d(x, weight).chunk(3, dim=1)
        out = local_window_attention(q, k, v, HEADS, KERNEL, position=F.conv2d(grid, position), impl=impl)
        out.square().mean().backward()

    return step


FORMER_PART_PIXELS = 1 << 14
PART_SETTINGS = (("own pool, parts ≥ 2^14 px (former)", False, FORMER_PART_PIXELS),
                 ("OpenMP threads, parts ≥ 2^14 px", True, FORMER_PART_PIXELS),
                 (f"OpenMP threads, parts ≥ 2^{_window_kernels.MIN_PART_PIXELS.bit_length() - 1} px (now)", True,
                  _window_kernels.MIN_PART_PIXELS))


def part_table(repeats: int) -> list[str]:
    """The fused layer at several sizes under each way of running the kernels' parallel parts, interleaved."""
    openmp, smallest = threads._OPENMP, _window_kernels.MIN_PART_PIXELS
    if openmp is None:
        return ["(PyTorch's OpenMP runtime is not reachable here: no part table)"]
    lines = ["| size | " + " | ".join(f"{name}: ms (min / median)" for name, _, _ in PART_SETTINGS) + " | former / each (median) |",
             "|" + "---|" * (len(PART_SETTINGS) + 2)]
    try:
        for size in (16, 32, 64):
            step = make_step("fused", 0.1, size)
            times: list[list[float]] = [[] for _ in PART_SETTINGS]
            for r in range(repeats + 1):
                for i in [(r + j) % len(PART_SETTINGS) for j in range(len(PART_SETTINGS))]:
                    _, on_openmp, part_pixels = PART_SETTINGS[i]
                    threads._OPENMP, _window_kernels.MIN_PART_PIXELS = (openmp if on_openmp else None), part_pixels
                    t0 = time.perf_counter()
                    step()
                    if r:  # round 0 warms up
                        times[i].append(time.perf_counter() - t0)
            medians = [statistics.median(t) for t in times]
            cells = [f"{1e3 * min(t):.2f} / {1e3 * m:.2f}" for t, m in zip(times, medians)]
            ratios = " / ".join(f"{medians[0] / m:.2f}×" for m in medians)
            lines.append(f"| {BATCH} × {size}² | " + " | ".join(cells) + f" | {ratios} |")
    finally:
        threads._OPENMP, _window_kernels.MIN_PART_PIXELS = openmp, smallest
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--record", action="store_true", help="write the table to bench/RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = {(impl, scale): make_step(impl, scale) for scale in (0.1, 1.0) for impl in ("fused", "views")}
    for step in steps.values():
        step()
    times: dict[tuple[str, float], list[float]] = {key: [] for key in steps}
    keys = list(steps)
    for r in range(args.repeats):
        for key in keys[r % len(keys):] + keys[: r % len(keys)]:
            t0 = time.perf_counter()
            steps[key]()
            times[key].append(time.perf_counter() - t0)
    lines = ["| weight scale | fused ms (min / median) | views ms (min / median) | views / fused (median) |",
             "|---|---|---|---|"]
    for scale in (0.1, 1.0):
        fused, views = times[("fused", scale)], times[("views", scale)]
        lines.append(f"| {scale} | {1e3 * min(fused):.1f} / {1e3 * statistics.median(fused):.1f} | "
                     f"{1e3 * min(views):.1f} / {1e3 * statistics.median(views):.1f} | "
                     f"{statistics.median(views) / statistics.median(fused):.2f}× |")
    lines += ["", f"One SA layer, fwd + bwd: batch {BATCH} × {SIZE}², {CHANNELS} → 3×{HEADS}×{HEAD_DIM} channels, "
                  f"{KERNEL}×{KERNEL} windows; {args.threads} threads, {args.repeats} interleaved rounds.", ""]
    lines += part_table(args.repeats)
    lines += ["", "The same layer (weight scale 0.1) at each size, fused, with the kernels' parallel parts run each way; "
                  f"{args.threads} threads, {args.repeats} interleaved rounds."]
    table = "\n".join(lines)
    if args.record:
        with recorded("bench_attention"):
            print(table)
    else:
        print(table)


if __name__ == "__main__":
    main()
