"""RSANet: our implementation vs the authors' code (models/MSIP/RSAM.py), interleaved in one run.

    python bench/bench_rsanet.py --authors /tmp/scratch_rsanet/RSMIF_Project [--threads 2] [--repeats 3] [--device cpu]

``--authors`` (or the environment variable RSANET_AUTHORS) is a scratch copy of the authors' repository
JUSTM0VE0N/RSMIF_Project (or the path of its ``models/MSIP/RSAM.py``) kept OUTSIDE this repository; it is
imported by path and never shipped. Without it only our timings are printed.

Measured, with both networks holding the same weights (the authors' initialisation loaded into ours):
* train: one step = forward + L1 backward + Adam, batch 8, WV3 (PAN 1×64×64, lms 8×64×64);
* infer: one 256×256 WV3 image, eval mode, no_grad;
* peak memory: each (implementation, mode) runs one step in a fresh subprocess; we print the peak RSS
  (VmHWM of /proc/self/status) and its growth over the RSS before the step (CPU), or
  ``torch.cuda.max_memory_allocated`` (CUDA).
Times are the minimum and median over interleaved repeats (authors, ours, authors, ours, ...).
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
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F
from rsmif_rsanet import RSANet

from rsmif_core import Batch, BatchMeta

SPECTRAL, GUIDE, RATIO = 8, 1, 4


def load_authors_module(path: str) -> ModuleType:
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "models" / "MSIP" / "RSAM.py"
    if not p.is_file():
        raise SystemExit(f"authors' RSAM.py not found at {p} (pass --authors <copy of JUSTM0VE0N/RSMIF_Project>)")
    spec = importlib.util.spec_from_file_location("authors_rsam", p)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(impl: str, authors: str | None, device: str) -> tuple[torch.nn.Module, Any]:
    """Both models get the weights of the authors' seed-0 initialisation (ours loads them)."""
    torch.manual_seed(0)
    if authors is not None:
        theirs = load_authors_module(authors).RSANet()
        state = theirs.state_dict()
    else:
        theirs, state = None, None
    if impl == "authors":
        assert theirs is not None
        net = theirs.to(device)
        return net, lambda pan, lms: net(pan, lms)
    ours = RSANet(SPECTRAL, GUIDE, RATIO)
    if state is not None:
        ours.load_authors_state_dict(state)
    ours = ours.to(device)

    def run(pan: torch.Tensor, lms: torch.Tensor) -> torch.Tensor:
        batch = Batch(pan=pan, ms=F.avg_pool2d(lms, RATIO), lms=lms, meta=BatchMeta(ratio=RATIO))
        return ours(batch).fused

    return ours, run


def inputs(mode: str, device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    b, size = (8, 64) if mode == "train" else (1, 256)
    pan = torch.rand(b, GUIDE, size, size, generator=g)
    lms = torch.rand(b, SPECTRAL, size, size, generator=g)
    gt = torch.rand(b, SPECTRAL, size, size, generator=g)
    return pan.to(device), lms.to(device), gt.to(device)


def stepper(impl: str, mode: str, authors: str | None, device: str):
    net, run = build(impl, authors, device)
    pan, lms, gt = inputs(mode, device)
    if mode == "train":
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=3e-4, betas=(0.9, 0.999), eps=1e-8)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            F.l1_loss(run(pan, lms), gt).backward()
            opt.step()
    else:
        net.eval()

        def step() -> None:
            with torch.no_grad():
                run(pan, lms)
    return step


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def status_mib(field: str) -> float:
    """VmRSS / VmHWM of this process (VmHWM, unlike ru_maxrss, is not inherited across fork + exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(impl: str, mode: str, authors: str | None, device: str, threads: int) -> None:
    torch.set_num_threads(threads)
    step = stepper(impl, mode, authors, device)
    if device.startswith("cuda"):
        step()  # warm-up (cudnn, allocator), then measure a clean step
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20
        step()
        torch.cuda.synchronize()
        print(json.dumps({"peak": torch.cuda.max_memory_allocated() / 2**20, "base": base}))
        return
    base = status_mib("VmRSS")
    step()
    peak = status_mib("VmHWM")
    print(json.dumps({"peak": peak, "base": base}))


def peak_memory(impl: str, mode: str, authors: str | None, device: str, threads: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", impl, mode, "--device", device, "--threads", str(threads)]
    if authors:
        cmd += ["--authors", authors]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--authors", default=os.environ.get("RSANET_AUTHORS"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--modes", default="train,infer")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "MODE"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.authors, args.device, args.threads)
        return
    torch.set_num_threads(args.threads)
    impls = ["authors", "ours"] if args.authors else ["ours"]
    if not args.authors:
        print("authors' code not given (--authors PATH or RSANET_AUTHORS): timing ours only")
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, repeats {args.repeats}")
    for mode in args.modes.split(","):
        steps = {impl: stepper(impl, mode, args.authors, args.device) for impl in impls}
        for impl in impls:  # warm-up
            steps[impl]()
        times: dict[str, list[float]] = {impl: [] for impl in impls}
        for _ in range(args.repeats):
            for impl in impls:
                sync(args.device)
                t0 = time.perf_counter()
                steps[impl]()
                sync(args.device)
                times[impl].append(time.perf_counter() - t0)
        for impl in impls:
            print(f"{mode:5s} {impl:7s} min {min(times[impl]):8.3f} s  median {statistics.median(times[impl]):8.3f} s")
        if args.authors:
            ratio_min = min(times["authors"]) / min(times["ours"])
            ratio_med = statistics.median(times["authors"]) / statistics.median(times["ours"])
            print(f"{mode:5s} speed-up (authors / ours): {ratio_min:.2f}x (min), {ratio_med:.2f}x (median)")
        del steps
        if not args.no_memory:
            mem = {impl: peak_memory(impl, mode, args.authors, args.device, args.threads) for impl in impls}
            unit = "MiB allocated" if args.device.startswith("cuda") else "MiB RSS"
            for impl in impls:
                m = mem[impl]
                print(f"{mode:5s} {impl:7s} peak {m['peak']:9.1f} {unit} (step adds {m['peak'] - m['base']:8.1f})")
            if args.authors:
                a, o = (mem[i]["peak"] - mem[i]["base"] for i in ("authors", "ours"))
                print(f"{mode:5s} memory of one step, ours / authors: {o / a:.2f}")


if __name__ == "__main__":
    main()
