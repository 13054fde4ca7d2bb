"""Benchmark CF2N (rsmif-cf2n) against its neighbours in size, MMAPP and RAMSF.

CF2N has no released code, so the baselines are the neighbours the issue names: the authors' MMAPP and
RAMSF (run from a scratch copy of JUSTM0VE0N/RSMIF_Project OUTSIDE this repository; never committed) and,
when installed, the rsmif-mmapp / rsmif-ramsf plugins. Everything runs in this one process, interleaved,
float32, 2 threads:

* training step: forward + backward + Adam, batch 8, WV3 (8 bands), PAN 64×64 / MS 16×16;
* inference: one 256×256 PAN (MS 64×64), eval, no_grad;
* peak memory: each (model, mode) in its own subprocess, peak RSS (VmHWM) and its rise over the RSS
  measured just before the timed work.

Usage::

    python bench/bench_cf2n.py --authors /tmp/scratch_cf2n/authors [--repeats 3] [--no-memory]

``--authors`` (or ``RSMIF_AUTHORS_CODE``) is the folder holding ``models/MSIP/{RAMSF,MMAPP}.py`` and
``modules/{AdaConv,AttenConvmix}.py`` of the authors' repository. Without it only the plugins are compared.
The authors' files are imported unmodified; at run time ``Tensor.cuda`` becomes the identity and the
unused imports ``thop``, ``torchsummary``, ``einops`` are stubbed (the same patch as the shared reference files).
"""

from __future__ import annotations

import argparse
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

import torch
import torch.nn.functional as F

THREADS = 2
TRAIN_BATCH, TRAIN_PAN = 8, 64
INFER_PAN = 256
Step = Callable[[], None]


def _batch(size: int, batch_size: int) -> Any:
    from rsmif_core.testing import TASK_CASES, make_batch

    return make_batch(TASK_CASES["pansharpening-wv3"], size=size, batch_size=batch_size, seed=0)


def _import_authors(root: Path, module: str) -> types.ModuleType:
    """Import one of the authors' model files by path, with the runtime patch described above."""
    import importlib

    for name in ("thop", "torchsummary", "einops"):
        if name not in sys.modules:
            stub = types.ModuleType(name)
            stub.profile = stub.summary = stub.rearrange = lambda *a, **k: None  # type: ignore[attr-defined]
            sys.modules[name] = stub
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    saved = os.environ.get("CUDA_VISIBLE_DEVICES")
    mod = importlib.import_module(module)
    if saved is None:  # the authors' modules set CUDA_VISIBLE_DEVICES at import; undo it
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    else:
        os.environ["CUDA_VISIBLE_DEVICES"] = saved
    return mod


# --- candidates: name -> (train step factory, inference factory) --------------------------------------


def _rsmif_model(name: str) -> Callable[[], torch.nn.Module]:
    def build() -> torch.nn.Module:
        if name == "cf2n":
            from rsmif_cf2n import CF2N

            return CF2N(8, 1, 4)
        import rsmif_core

        return rsmif_core.create_model(name, spectral_bands=8, guide_bands=1, ratio=4)

    return build


def _rsmif_train(build: Callable[[], torch.nn.Module]) -> Step:
    model = build().train()
    batch = _batch(TRAIN_PAN, TRAIN_BATCH)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.l1_loss(model(batch).fused, batch.gt).backward()
        opt.step()

    return step


def _rsmif_infer(build: Callable[[], torch.nn.Module]) -> Step:
    model = build().eval()
    batch = _batch(INFER_PAN, 1)

    def step() -> None:
        with torch.no_grad():
            model(batch)

    return step


def _ramsf_train(root: Path) -> Step:
    net = _import_authors(root, "models.MSIP.RAMSF").Network(None, H=TRAIN_PAN, W=TRAIN_PAN).train()
    b = _batch(TRAIN_PAN, TRAIN_BATCH)
    opt = torch.optim.Adam(net.parameters(), lr=3e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.l1_loss(net(b.pan, b.lms, b.ms), b.gt).backward()
        opt.step()

    return step


def _ramsf_infer(root: Path) -> Step:
    # RAMSF's constructor H, W must equal the PAN size (parameter-free; see authors-code.md).
    net = _import_authors(root, "models.MSIP.RAMSF").Network(None, H=INFER_PAN, W=INFER_PAN).eval()
    b = _batch(INFER_PAN, 1)

    def step() -> None:
        with torch.no_grad():
            net(b.pan, b.lms, b.ms)

    return step


def _mmapp_train(root: Path) -> Step:
    net = _import_authors(root, "models.MSIP.MMAPP").Network(None).train()
    b = _batch(TRAIN_PAN, TRAIN_BATCH)
    opt = torch.optim.Adam(net.parameters(), lr=3e-4)
    gt_d2 = F.interpolate(b.gt, scale_factor=0.5, mode="bicubic", align_corners=True)
    gt_d4 = F.interpolate(b.gt, scale_factor=0.25, mode="bicubic", align_corners=True)

    def step() -> None:  # the authors' multi-scale loss
        opt.zero_grad(set_to_none=True)
        out1, out2, out3, ms_u4 = net(b.ms, b.pan)
        loss = (
            0.2 * F.l1_loss(out1, gt_d4) + 0.3 * F.l1_loss(out2, gt_d2)
            + 0.5 * F.l1_loss(out3, b.gt) + 0.01 * F.l1_loss(ms_u4, b.lms)
        )
        loss.backward()
        opt.step()

    return step


def _mmapp_infer(root: Path) -> Step:
    net = _import_authors(root, "models.MSIP.MMAPP").Network(None).eval()
    b = _batch(INFER_PAN, 1)

    def step() -> None:
        with torch.no_grad():
            net(b.ms, b.pan)

    return step


def candidates(authors: Path | None) -> dict[str, tuple[Callable[[], Step], Callable[[], Step]]]:
    import rsmif_core

    found: dict[str, tuple[Callable[[], Step], Callable[[], Step]]] = {
        "cf2n (ours)": (lambda: _rsmif_train(_rsmif_model("cf2n")), lambda: _rsmif_infer(_rsmif_model("cf2n"))),
    }
    if authors is not None:
        found["ramsf (authors)"] = (lambda: _ramsf_train(authors), lambda: _ramsf_infer(authors))
        found["mmapp (authors)"] = (lambda: _mmapp_train(authors), lambda: _mmapp_infer(authors))
    for name in ("ramsf", "mmapp"):
        if name in rsmif_core.available("models"):
            build = _rsmif_model(name)
            found[f"{name} (rsmif plugin)"] = (
                lambda b=build: _rsmif_train(b),  # type: ignore[misc]
                lambda b=build: _rsmif_infer(b),  # type: ignore[misc]
            )
    return found


def param_count(name: str, authors: Path | None) -> int:
    if name.startswith("cf2n"):
        return sum(p.numel() for p in _rsmif_model("cf2n")().parameters())
    if name.endswith("(rsmif plugin)"):
        return sum(p.numel() for p in _rsmif_model(name.split()[0])().parameters())
    assert authors is not None
    module = "models.MSIP.RAMSF" if name.startswith("ramsf") else "models.MSIP.MMAPP"
    return sum(p.numel() for p in _import_authors(authors, module).Network(None).parameters())


def time_interleaved(steps: dict[str, Step], repeats: int) -> dict[str, list[float]]:
    """One warm-up each, then ``repeats`` rounds; each round runs every candidate once, order rotated."""
    for step in steps.values():
        step()
    times: dict[str, list[float]] = {n: [] for n in steps}
    names = list(steps)
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def _status_mib(field: str) -> float:
    """VmRSS / VmHWM of this process from /proc (Linux). ``ru_maxrss`` is not used: it survives ``exec``, so a
    child started from a large parent reports the parent's peak; VmHWM belongs to the new address space."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not found in /proc/self/status")


def child_memory(name: str, mode: str, authors: Path | None) -> None:
    """Subprocess body: build one candidate, run its step (twice for training: Adam state), print JSON."""
    torch.set_num_threads(THREADS)
    train, infer = candidates(authors)[name]
    step = train() if mode == "train" else infer()
    before = _status_mib("VmRSS")
    step()
    if mode == "train":
        step()
    peak = _status_mib("VmHWM")
    print(json.dumps({"peak_mib": peak, "rise_mib": peak - before}))


def measure_memory(name: str, mode: str, authors: Path | None) -> dict[str, float] | None:
    cmd = [sys.executable, __file__, "--child", name, mode]
    if authors is not None:
        cmd += ["--authors", str(authors)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  memory run of {name} ({mode}) failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--authors", type=Path, default=os.environ.get("RSMIF_AUTHORS_CODE"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    authors = Path(args.authors).resolve() if args.authors else None
    if authors is not None and not (authors / "models" / "MSIP" / "RAMSF.py").is_file():
        parser.error(f"--authors {authors}: expected models/MSIP/RAMSF.py there (a copy of JUSTM0VE0N/RSMIF_Project)")
    if args.child:
        child_memory(args.child[0], args.child[1], authors)
        return
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    if authors is None:
        print("no --authors / RSMIF_AUTHORS_CODE: comparing with the installed rsmif plugins only")
    cands = candidates(authors)
    if len(cands) == 1:
        print("nothing to compare with: give the authors' code or install rsmif-ramsf / rsmif-mmapp")
    print(f"torch {torch.__version__}, {THREADS} threads, float32, CPU; repeats {args.repeats}")
    for name in cands:
        print(f"  {name}: {param_count(name, authors):,} parameters")
    results: dict[str, dict[str, float]] = {n: {} for n in cands}
    for mode, index in (("train", 0), ("infer", 1)):
        steps = {n: factories[index]() for n, factories in cands.items()}
        times = time_interleaved(steps, args.repeats)
        for n, ts in times.items():
            results[n][mode] = statistics.median(ts)
            print(f"  {mode:5s} {n:24s} median {results[n][mode]:.3f} s  runs {[round(t, 3) for t in ts]}", flush=True)
        del steps
    if not args.no_memory:
        for n in cands:
            for mode in ("train", "infer"):
                mem = measure_memory(n, mode, authors)
                if mem is not None:
                    results[n][f"{mode}_peak"] = mem["peak_mib"]
                    results[n][f"{mode}_rise"] = mem["rise_mib"]
                    print(f"  {mode:5s} {n:24s} peak RSS {mem['peak_mib']:.0f} MiB (rise {mem['rise_mib']:.0f})", flush=True)
    ours = results["cf2n (ours)"]
    print(f"\n{'model':24s} {'train s':>9s} {'infer s':>9s} {'train MiB (rise)':>18s} {'infer MiB (rise)':>18s}")
    for n, r in results.items():
        mem_t = f"{r.get('train_peak', float('nan')):.0f} ({r.get('train_rise', float('nan')):.0f})"
        mem_i = f"{r.get('infer_peak', float('nan')):.0f} ({r.get('infer_rise', float('nan')):.0f})"
        print(f"{n:24s} {r['train']:9.3f} {r['infer']:9.3f} {mem_t:>18s} {mem_i:>18s}")
    print("\nratios (baseline / cf2n: >1 means cf2n is faster or smaller)")
    for n, r in results.items():
        if n == "cf2n (ours)":
            continue
        parts = [f"train x{r['train'] / ours['train']:.2f}", f"infer x{r['infer'] / ours['infer']:.2f}"]
        for key in ("train_rise", "infer_rise"):
            if key in r and key in ours and ours[key] > 0:
                parts.append(f"{key.replace('_rise', '')} memory rise x{r[key] / ours[key]:.2f}")
        print(f"  vs {n}: " + ", ".join(parts))


if __name__ == "__main__":
    main()
