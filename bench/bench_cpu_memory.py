"""Whole-image inference with ``runtime.cpu_memory`` ``release`` (the default) against ``reuse``.

    python bench/bench_cpu_memory.py [--models pnn,cf2n,ramsf,mmapp,rsanet] [--size 512] [--calls 6]
                                     [--rounds 2] [--threads 2] [--record]

Each (method, setting) runs in a fresh subprocess (the setting is process-wide and cannot be undone), the two
settings alternating over ``--rounds`` rounds: one no-grad forward of 1 × size² PAN (bench_models' inference
workload) ``--calls`` times. Printed per method: the median seconds per call after the first (which grows the
heap), the ratio release / reuse (medians over the rounds), the peak resident set and the resident set after the
last call (MiB).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
from _results import record  # noqa: E402

SETTINGS = ("release", "reuse")


def child(method: str, setting: str, size: int, calls: int, threads: int) -> None:
    from rsmif_core.config.schema import RuntimeSection
    from rsmif_core.run.build import apply_runtime

    apply_runtime(RuntimeSection(threads=threads, cpu_memory=setting))
    import bench_models  # noqa: E402  (after the setting: it imports torch and builds the model)

    step = bench_models.make_step(method, "ours", "infer", None, "cpu", None, shape=(1, size))[0]
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"seconds": statistics.median(times[1:]), "peak_mib": bench_models._status_mib("VmHWM"),
                      "after_mib": bench_models._status_mib("VmRSS")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="pnn,cf2n,ramsf,mmapp,rsanet")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--record", action="store_true", help="write the table to bench/RESULTS.md")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "SETTING"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.size, args.calls, args.threads)
        return
    lines = ["| method | release s/call (median) | reuse s/call (median) | release / reuse | peak MiB (release / reuse) "
             "| resident after MiB (release / reuse) |", "|---|---|---|---|---|---|"]
    for method in args.models.split(","):
        runs: dict[str, list[dict[str, float]]] = {s: [] for s in SETTINGS}
        for r in range(args.rounds):
            for setting in SETTINGS if r % 2 == 0 else SETTINGS[::-1]:
                cmd = [sys.executable, str(HERE), "--child", method, setting, "--size", str(args.size),
                       "--calls", str(args.calls), "--threads", str(args.threads)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                runs[setting].append(json.loads(out.strip().splitlines()[-1]))
        med = {s: statistics.median(x["seconds"] for x in runs[s]) for s in SETTINGS}
        peak = {s: max(x["peak_mib"] for x in runs[s]) for s in SETTINGS}
        after = {s: max(x["after_mib"] for x in runs[s]) for s in SETTINGS}
        lines.append(f"| {method} | {med['release']:.3f} | {med['reuse']:.3f} | {med['release'] / med['reuse']:.2f}× | "
                     f"{peak['release']:.0f} / {peak['reuse']:.0f} | {after['release']:.0f} / {after['reuse']:.0f} |")
        print(lines[-1], flush=True)
    table = "\n".join(lines + ["", f"No-grad forward of 1 × {args.size}² PAN (WV3, ratio 4), {args.threads} threads, fp32; "
                                   f"{args.calls} calls per process (the first not timed), {args.rounds} processes per "
                                   "setting, alternating."])
    if args.record:
        record(f"bench_cpu_memory ({args.size}²)", table)
    print(table)


if __name__ == "__main__":
    main()
