"""Benchmark: RSMIF's MMAPP against the authors' code, interleaved in one run.

The authors' files (JUSTM0VE0N/RSMIF_Project ``models/MSIP/MMAPP.py``, ``modules/AdaConv.py``,
``modules/AttenConvmix.py``) are NOT part of this repository: put a copy in a scratch folder laid out as
``<dir>/MMAPP.py`` + ``<dir>/modules/{AdaConv,AttenConvmix,__init__}.py`` and pass ``--authors <dir>``
(or set ``MMAPP_AUTHORS_DIR``). Without it only our model is measured.

Measures, each in a fresh subprocess (so the peak resident memory, ``ru_maxrss``, belongs to one case),
with 2 threads (wall and CPU time: on a shared machine CPU time is the steadier of the two): one training step (forward + backward + Adam, batch 8, PAN 64×64, WV3 8+1 bands, the
multiscale loss) and inference on one 256×256 PAN (eval, no_grad). Repeats alternate authors/ours.

    python bench/bench_mmapp.py --authors /tmp/scratch_mmapp [--repeats 2] [--device cuda] [--small-op-threads auto,single,all]

``--small-op-threads`` measures ours under several settings of ``RSMIF_SMALL_OP_THREADS`` (see
``rsmif_core.ops.attention``) in the same interleaved run; the load average before and after is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()


def _build(impl: str, authors_dir: str | None) -> Any:
    import torch

    torch.manual_seed(0)
    if impl == "authors":
        assert authors_dir is not None
        sys.modules.setdefault("torchsummary", types.SimpleNamespace(summary=None))  # type: ignore[arg-type]
        sys.path.insert(0, authors_dir)
        import MMAPP as authors  # noqa: N813

        net = authors.Network(None)
        return lambda ms, pan: net(ms, pan), net
    from rsmif_mmapp import MMAPP

    model = MMAPP(8, 1, 4)  # "ours" or "ours:<policy>": the policy is set through the environment by _spawn
    return lambda ms, pan: model.pyramid(ms, pan), model


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(impl: str, mode: str, authors_dir: str | None, iters: int, device: str, threads: int) -> dict[str, float]:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    run, net = _build(impl, authors_dir)
    net.to(device)
    g = torch.Generator().manual_seed(1)
    cuda = device.startswith("cuda")

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    if mode == "train":
        b, size = 8, 64
        pan = torch.rand(b, 1, size, size, generator=g).to(device)
        ms = torch.rand(b, 8, size // 4, size // 4, generator=g).to(device)
        lms = F.interpolate(ms, scale_factor=4, mode="bicubic")
        gt = torch.rand(b, 8, size, size, generator=g).to(device)
        gt2 = F.interpolate(gt, size=[size // 2] * 2, mode="bicubic", align_corners=True)
        gt4 = F.interpolate(gt, size=[size // 4] * 2, mode="bicubic", align_corners=True)
        opt = torch.optim.Adam(net.parameters(), lr=3e-4)
        net.train()

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            o1, o2, o3, mu = run(ms, pan)
            loss = 0.2 * F.l1_loss(o1, gt4) + 0.3 * F.l1_loss(o2, gt2) + 0.5 * F.l1_loss(o3, gt) + 0.01 * F.l1_loss(mu, lms)
            loss.backward()
            opt.step()
    else:
        pan = torch.rand(1, 1, 256, 256, generator=g).to(device)
        ms = torch.rand(1, 8, 64, 64, generator=g).to(device)
        net.eval()

        def step() -> None:
            with torch.no_grad():
                run(ms, pan)

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    step()  # warm-up
    sync()
    times, cpu_times = [], []
    for _ in range(iters):
        c0, t0 = _cpu_seconds(), time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
        cpu_times.append(_cpu_seconds() - c0)
    out = {
        "seconds": statistics.median(times),
        "cpu_seconds": statistics.median(cpu_times),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_over_setup_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) / 1024,
    }
    if cuda:
        out["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def _spawn(impl: str, mode: str, authors_dir: str | None, iters: int, device: str, threads: int) -> dict[str, float]:
    cmd = [sys.executable, str(HERE), "--child", impl, mode, "--iters", str(iters), "--device", device]
    cmd += ["--threads", str(threads)]
    if authors_dir:
        cmd += ["--authors", authors_dir]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if impl.startswith("ours:"):
        env["RSMIF_SMALL_OP_THREADS"] = impl.split(":", 1)[1]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        raise SystemExit(f"{impl}/{mode} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--authors", default=os.environ.get("MMAPP_AUTHORS_DIR"), help="scratch copy of the authors' code")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds per case")
    parser.add_argument("--iters", type=int, default=2, help="timed iterations per subprocess (after one warm-up)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the issue's protocol: 2)")
    parser.add_argument("--small-op-threads", default="all",
                        help="comma-separated RSMIF_SMALL_OP_THREADS settings to measure ours under (all = the "
                             "default: the caller's threads; single: small-op loops on one intra-op thread; auto: "
                             "one thread only while the load average exceeds 1.5x the core count), each "
                             "interleaved with the authors'")
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], args.child[1], args.authors, args.iters, args.device, args.threads)))
        return
    impls = [f"ours:{p}" for p in args.small_op_threads.split(",")]
    if args.authors and (Path(args.authors) / "MMAPP.py").is_file():
        impls = ["authors", *impls]
    else:
        print(f"authors' code not found (--authors / MMAPP_AUTHORS_DIR = {args.authors!r}); measuring ours only")
    load_before = os.getloadavg()
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for mode in ("train", "infer"):
        for _ in range(args.repeats):
            for impl in impls:
                results.setdefault((impl, mode), []).append(_spawn(impl, mode, args.authors, args.iters, args.device, args.threads))
    load_after = os.getloadavg()
    print(f"device {args.device}, {args.threads} thread(s); train = fwd+bwd+Adam, batch 8, PAN 64×64 WV3; infer = one 256×256 PAN")
    print(f"load average (1, 5, 15 min) before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; {os.cpu_count()} CPUs")
    for mode in ("train", "infer"):
        row = {}
        for impl in impls:
            runs = results[(impl, mode)]
            row[impl] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            extra = f", peak CUDA {row[impl]['peak_cuda_mib']:.0f} MiB" if "peak_cuda_mib" in row[impl] else ""
            print(
                f"{mode:5s} {impl:12s}: {row[impl]['seconds']:.3f} s wall, {row[impl]['cpu_seconds']:.3f} s CPU, peak RSS {row[impl]['peak_rss_mib']:.0f} MiB "
                f"(+{row[impl]['peak_rss_over_setup_mib']:.0f} MiB over setup){extra}"
            )
        for impl in impls:
            if impl == "authors" or "authors" not in row:
                continue
            a, o = row["authors"], row[impl]
            mem = f"{o['peak_rss_mib'] / a['peak_rss_mib']:.2f}"
            print(f"{mode:5s} {impl} speed-up ×{a['seconds'] / o['seconds']:.2f} wall, ×{a['cpu_seconds'] / o['cpu_seconds']:.2f} CPU, "
                  f"peak RSS ours/authors {mem}", end="")
            if "peak_cuda_mib" in a:
                print(f", peak CUDA ours/authors {o['peak_cuda_mib'] / a['peak_cuda_mib']:.2f}", end="")
            print()

if __name__ == "__main__":
    main()
