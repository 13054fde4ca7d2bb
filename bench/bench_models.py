"""Speed of every fusion method: parameters, FLOPs, training step, 256² inference, share of the machine's
matmul throughput, peak memory and, when the authors' code is at hand, the interleaved ratio against it.

    python bench/bench_models.py [--models pnn,cf2n,ramsf,mmapp,rsanet] [--authors DIR] [--repeats 3]
                                 [--threads 2] [--device cpu|cuda] [--autocast bf16] [--compile]
                                 [--no-memory] [--record] [--write-flops]

Workloads (WV3 geometry: 8 spectral bands, 1 PAN band, ratio 4, float32):

* ``train``: one step = forward + L1(fused, gt) backward + Adam, batch 8 of 64×64 PAN;
* ``infer``: one 256×256 PAN, eval mode, ``no_grad``.

Timing: one warm-up call each, then ``--repeats`` rounds; each round times a 2048×2048 fp32 matmul and
every implementation once (order rotated between rounds), so the machine's state is shared. Reported:
min and median seconds; the share of the matmul throughput = FLOPs / time / (matmul FLOP/s, median over
the rounds); the ratio against the authors' code is computed per round (authors / ours) and given as
min / median over the rounds.

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and convolutions only; the
elementwise window products of the attention are not counted). The shares divide the *reference* counts
of ``bench/flops_reference.json`` (written with ``--write-flops``, from the implementation before the
speed work of issue #24), so a faster implementation scores only by taking less time; the counts of the
current implementation are printed alongside.

``--authors DIR``: a scratch copy of JUSTM0VE0N/RSMIF_Project OUTSIDE this repository (holding
``models/MSIP/{RSAM,MMAPP,RAMSF}.py`` and ``modules/``); its files are imported by path, unmodified: at
run time ``Tensor.cuda`` becomes ``.to(device)`` and the unused imports ``thop``, ``torchsummary`` and
``einops`` are stubbed. PNN and CF2N have no authors' code.

Peak memory: each (method, implementation, workload) runs in a fresh subprocess: a warm-up on a tiny batch
(imports, kernel compilation), then one call of the workload; printed is how much the call adds to the peak
resident set over the resident set before it (CPU), or the growth of ``torch.cuda.max_memory_allocated``.

``--compile`` also times ``torch.compile(model, dynamic=False)`` (what ``runtime.compile`` does; default inductor
backend) interleaved with eager.
``--per-pixel`` instead times the no-grad forward at several batch × PAN sizes (8×64², 16×64², 1×256², 1×512²),
interleaved, and prints the cost per PAN pixel of each: it should not grow with the input.
``--record`` writes the table to ``bench/RESULTS.md`` (section per device / dtype / compile setting).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
from _results import record  # noqa: E402

FLOPS_REFERENCE = HERE.with_name("flops_reference.json")
MODELS = ("pnn", "cf2n", "ramsf", "mmapp", "rsanet")
AUTHORS_FILES = {"rsanet": "models.MSIP.RSAM", "mmapp": "models.MSIP.MMAPP", "ramsf": "models.MSIP.RAMSF"}
SPECTRAL, GUIDE, RATIO = 8, 1, 4
TRAIN_BATCH, TRAIN_PAN, INFER_PAN = 8, 64, 256
MATMUL_N = 2048
Step = Callable[[], None]


# --- inputs and models ---------------------------------------------------------------------------------


@dataclass
class Tensors:
    pan: torch.Tensor
    ms: torch.Tensor
    lms: torch.Tensor
    gt: torch.Tensor


def make_inputs(mode: str, device: str, shape: tuple[int, int] | None = None) -> Tensors:
    """The workload's inputs; ``shape`` = (batch, PAN size) overrides the workload's."""
    batch, size = shape or ((TRAIN_BATCH, TRAIN_PAN) if mode == "train" else (1, INFER_PAN))
    g = torch.Generator().manual_seed(1)
    gt = torch.rand(batch, SPECTRAL, size, size, generator=g)
    pan = torch.rand(batch, GUIDE, size, size, generator=g)
    ms = F.avg_pool2d(gt, RATIO)
    lms = F.interpolate(ms, scale_factor=RATIO, mode="bicubic", align_corners=False)
    return Tensors(*(t.to(device) for t in (pan, ms, lms, gt)))


def import_authors(root: Path, module: str, device: str) -> types.ModuleType:
    """One of the authors' model files, imported by path with the run-time patch of the module docstring."""
    for name in ("thop", "torchsummary", "einops"):
        if name not in sys.modules:
            stub = types.ModuleType(name)
            stub.profile = stub.summary = stub.rearrange = lambda *a, **k: None  # type: ignore[attr-defined]
            sys.modules[name] = stub
    torch.Tensor.cuda = lambda self, *a, **k: self.to(device)  # type: ignore[method-assign]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    saved = os.environ.get("CUDA_VISIBLE_DEVICES")
    mod = importlib.import_module(module)
    if saved is None:  # AttenConvmix / DWT set CUDA_VISIBLE_DEVICES at import: undo it
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    else:
        os.environ["CUDA_VISIBLE_DEVICES"] = saved
    return mod


def build(method: str, impl: str, mode: str, authors: Path | None, device: str,
          size: int | None = None) -> tuple[torch.nn.Module, Callable[[Tensors], torch.Tensor]]:
    """The network and a call ``inputs -> fused`` for ``impl`` in ("ours", "compiled", "authors")."""
    torch.manual_seed(0)
    if impl == "authors":
        assert authors is not None
        mod = import_authors(authors, AUTHORS_FILES[method], device)
        if method == "rsanet":
            net = mod.RSANet().to(device)
            return net, lambda t: net(t.pan, t.lms)
        if method == "mmapp":
            net = mod.Network(None).to(device)
            return net, lambda t: net(t.ms, t.pan)[2]
        size = size or (TRAIN_PAN if mode == "train" else INFER_PAN)  # their RAMSF only runs at its constructor's size
        net = mod.Network(None, n_select_bands=GUIDE, n_bands=SPECTRAL, H=size, W=size).to(device)
        return net, lambda t: net(t.pan, t.lms, t.ms)
    from rsmif_core import Batch, BatchMeta, create_model

    model = create_model(method, spectral_bands=SPECTRAL, guide_bands=GUIDE, ratio=RATIO).to(device)
    run: Callable[..., Any] = torch.compile(model, dynamic=False) if impl == "compiled" else model  # as runtime.compile
    meta = BatchMeta(ratio=RATIO)
    return model, lambda t: run(Batch(pan=t.pan, ms=t.ms, lms=t.lms, gt=t.gt, meta=meta)).fused


def autocast(device: str, dtype: str | None) -> contextlib.AbstractContextManager[Any]:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype={"bf16": torch.bfloat16, "fp16": torch.float16}[dtype])


def make_step(method: str, impl: str, mode: str, authors: Path | None, device: str, amp: str | None,
              shape: tuple[int, int] | None = None) -> tuple[Step, torch.nn.Module]:
    net, call = build(method, impl, mode, authors, device, shape[1] if shape else None)
    t = make_inputs(mode, device, shape)
    if mode == "train":
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=3e-4)

        def train_step() -> None:
            opt.zero_grad(set_to_none=True)
            with autocast(device, amp):
                loss = F.l1_loss(call(t).float(), t.gt)
            loss.backward()
            opt.step()

        return train_step, net
    net.eval()

    def infer_step() -> None:
        with torch.no_grad(), autocast(device, amp):
            call(t)

    return infer_step, net


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def count_flops(step: Step) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


# --- timing --------------------------------------------------------------------------------------------


def matmul_seconds(device: str, a: torch.Tensor, b: torch.Tensor, reps: int = 3) -> float:
    best = float("inf")
    for _ in range(reps):
        sync(device)
        t0 = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def interleaved(steps: dict[str, Step], repeats: int, device: str) -> tuple[dict[str, list[float]], list[float]]:
    """Seconds of every step per round and the matmul GFLOP/s of each round (see the module docstring)."""
    g = torch.Generator().manual_seed(0)
    a = torch.rand(MATMUL_N, MATMUL_N, generator=g).to(device)
    b = torch.rand(MATMUL_N, MATMUL_N, generator=g).to(device)
    matmul_seconds(device, a, b)
    for step in steps.values():
        step()
    sync(device)
    times: dict[str, list[float]] = {n: [] for n in steps}
    gflops: list[float] = []
    names = list(steps)
    for r in range(repeats):
        gflops.append(2 * MATMUL_N**3 / matmul_seconds(device, a, b) / 1e9)
        for name in names[r % len(names):] + names[: r % len(names)]:
            sync(device)
            t0 = time.perf_counter()
            steps[name]()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    return times, gflops


# --- memory (subprocess) -------------------------------------------------------------------------------


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(method: str, impl: str, mode: str, authors: Path | None, device: str, amp: str | None, threads: int) -> None:
    """One call of the workload in this fresh process: the peak resident set (CPU) or allocated memory (CUDA)
    it adds. A warm-up on a tiny batch first imports and compiles what the call needs (numba kernels, inductor
    graphs), whose memory is not the workload's; a warm-up on the real batch would leave its freed memory in the
    process and hide the call's own peak."""
    torch.set_num_threads(threads)
    warm_up, _ = make_step(method, impl, mode, authors, device, amp, shape=(2, 32))
    warm_up()
    del warm_up
    step, _ = make_step(method, impl, mode, authors, device, amp)
    sync(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2**20
        step()
        sync(device)
        print(json.dumps({"rise_mib": torch.cuda.max_memory_allocated() / 2**20 - before}))
        return
    with open("/proc/self/clear_refs", "w") as f:  # "5": the peak resident set restarts from the current one
        f.write("5")
    before = _status_mib("VmRSS")
    step()
    peak = _status_mib("VmHWM")
    print(json.dumps({"rise_mib": peak - before, "peak_mib": peak}))


def peak_memory(method: str, impl: str, mode: str, args: argparse.Namespace) -> float | None:
    cmd = [sys.executable, str(HERE), "--memory-child", method, impl, mode, "--device", args.device,
           "--threads", str(args.threads)]
    if args.authors:
        cmd += ["--authors", str(args.authors)]
    if args.autocast:
        cmd += ["--autocast", args.autocast]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  memory run {method}/{impl}/{mode} failed: {proc.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["rise_mib"])


# --- cost per pixel -------------------------------------------------------------------------------------

PER_PIXEL_SHAPES = ((8, 64), (16, 64), (1, 256), (1, 512))


def per_pixel(methods: list[str], args: argparse.Namespace) -> str:
    lines = ["| method | " + " | ".join(f"{b}×{s}² µs/px (min / median)" for b, s in PER_PIXEL_SHAPES) + " | largest / smallest (median) |",
             "|" + "---|" * (len(PER_PIXEL_SHAPES) + 2)]
    for method in methods:
        steps = {shape: make_step(method, "ours", "infer", None, args.device, args.autocast, shape=shape)[0]
                 for shape in PER_PIXEL_SHAPES}
        load_before = loadavg()
        times, _ = interleaved({f"{b}x{n}": step for (b, n), step in steps.items()}, args.repeats, args.device)
        cells, medians = [], []
        for (b, n) in PER_PIXEL_SHAPES:
            ts = [t / (b * n * n) * 1e6 for t in times[f"{b}x{n}"]]
            medians.append(statistics.median(ts))
            cells.append(f"{min(ts):.2f} / {medians[-1]:.2f}")
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {max(medians) / min(medians):.2f} |")
        print(lines[-1] + f"  (load {load_before} → {loadavg()})", flush=True)
    return "\n".join(lines + ["", f"No-grad forward, {args.threads} threads, {args.device}, {args.autocast or 'fp32'}, "
                                  f"{args.repeats} interleaved rounds; µs per PAN pixel."])


# --- report --------------------------------------------------------------------------------------------


def load_reference() -> dict[str, dict[str, int]]:
    if FLOPS_REFERENCE.is_file():
        return json.loads(FLOPS_REFERENCE.read_text(encoding="utf-8"))["flops"]
    return {}


def fmt_s(ts: list[float]) -> str:
    return f"{min(ts):.3f} / {statistics.median(ts):.3f}"


def fmt_ratio(rs: list[float]) -> str:
    return f"{min(rs):.2f}× / {statistics.median(rs):.2f}×" if rs else "–"


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--modes", default="train,infer")
    parser.add_argument("--authors", type=Path, default=None, help="scratch copy of JUSTM0VE0N/RSMIF_Project")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--autocast", choices=("bf16", "fp16"), default=None)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile(model)")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--record", action="store_true", help="write the table to bench/RESULTS.md")
    parser.add_argument("--title", default=None, help="section title in RESULTS.md (default from device/dtype)")
    parser.add_argument("--write-flops", action="store_true", help="store the counted FLOPs as the fixed reference")
    parser.add_argument("--per-pixel", action="store_true", help="time the forward per pixel at several input sizes")
    parser.add_argument("--memory-child", nargs=3, metavar=("METHOD", "IMPL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.authors is not None:
        args.authors = args.authors.resolve()
        if not (args.authors / "models" / "MSIP" / "RSAM.py").is_file():
            parser.error(f"--authors {args.authors}: no models/MSIP/RSAM.py there (a copy of JUSTM0VE0N/RSMIF_Project)")
    if args.memory_child:
        method, impl, mode = args.memory_child
        memory_child(method, impl, mode, args.authors, args.device, args.autocast, args.threads)
        return
    torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.models.split(",") if m.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    reference = load_reference()
    counted: dict[str, dict[str, int]] = {}
    dtype = args.autocast or "fp32"
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, {dtype}, "
          f"repeats {args.repeats}; load average {loadavg()}", flush=True)
    if args.per_pixel:
        table = per_pixel(methods, args)
        print("\n" + table)
        if args.record:
            record(args.title or f"bench_models --per-pixel ({args.device}, {dtype})", table)
        return
    rows = []
    all_gflops: list[float] = []
    for method in methods:
        impls = ["ours"] + (["compiled"] if args.compile else [])
        if args.authors is not None and method in AUTHORS_FILES:
            impls.append("authors")
        row: dict[str, Any] = {"method": method}
        for mode in modes:
            steps, nets = {}, {}
            for impl in impls:
                steps[impl], nets[impl] = make_step(method, impl, mode, args.authors, args.device, args.autocast)
            row["params"] = sum(p.numel() for p in nets["ours"].parameters())
            flops = count_flops(steps["ours"])
            counted.setdefault(method, {})[mode] = flops
            ref = reference.get(method, {}).get(mode, flops)
            load_before = loadavg()
            times, gflops = interleaved(steps, args.repeats, args.device)
            all_gflops += gflops
            mm = statistics.median(gflops)
            ours = times["ours"]
            share = ref / statistics.median(ours) / (mm * 1e9)
            cell: dict[str, Any] = {
                "flops_ref": ref, "flops_now": flops, "ours": ours, "share": share, "matmul": mm,
                "load": f"{load_before} → {loadavg()}",
            }
            print(f"{method:7s} {mode:5s} ours {fmt_s(ours)} s (min / median), FLOPs {ref / 1e9:.2f} G reference "
                  f"({flops / 1e9:.2f} G now), {100 * share:.0f} % of {mm:.0f} GFLOP/s matmul; load {cell['load']}",
                  flush=True)
            for other in impls[1:]:
                ratios = [a / o for a, o in zip(times[other], ours)]
                cell[other] = times[other]
                cell[f"{other}_ratio"] = ratios
                print(f"{method:7s} {mode:5s} {other:8s} {fmt_s(times[other])} s; {other} / ours per round: "
                      f"{', '.join(f'{r:.2f}' for r in ratios)} (min {min(ratios):.2f}, median {statistics.median(ratios):.2f})",
                      flush=True)
            del steps, nets
            if not args.no_memory:
                for impl in impls:
                    cell[f"{impl}_mem"] = peak_memory(method, impl, mode, args)
                print(f"{method:7s} {mode:5s} memory added by one call (MiB): "
                      + ", ".join(f"{i} {cell[f'{i}_mem']:.0f}" for i in impls if cell.get(f"{i}_mem") is not None),
                      flush=True)
            row[mode] = cell
        rows.append(row)
    if args.write_flops:
        FLOPS_REFERENCE.write_text(json.dumps({
            "note": "FLOPs (FlopCounterMode) of each workload, counted on the implementation before issue #24's speed work; "
                    "bench_models.py divides these fixed counts by the measured times",
            "workloads": {"train": f"fwd+bwd, batch {TRAIN_BATCH} × {TRAIN_PAN}² PAN, WV3", "infer": f"1 × {INFER_PAN}² PAN, WV3"},
            "flops": counted,
        }, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {FLOPS_REFERENCE}")
    table = markdown(rows, modes, args, all_gflops)
    print("\n" + table)
    if args.record:
        title = args.title or f"bench_models ({args.device}, {dtype}{', compile' if args.compile else ''})"
        record(title, table)
        print(f"recorded in bench/RESULTS.md as '{title}'")


def markdown(rows: list[dict[str, Any]], modes: list[str], args: argparse.Namespace, gflops: list[float]) -> str:
    head = ["method", "params"]
    for mode in modes:
        label = "train step" if mode == "train" else "256² inference"
        head += [f"{label} GFLOP (ref)", f"{label} s (min / median)", f"{label} % matmul"]
        if args.compile:
            head.append(f"{label} compiled s (min / median)")
        if args.authors:
            head.append(f"{label} vs authors (min / median)")
        if not args.no_memory:
            head.append(f"{label} MiB added (ours / authors)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["method"], f"{row['params']:,}"]
        for mode in modes:
            c = row[mode]
            cells += [f"{c['flops_ref'] / 1e9:.2f}", fmt_s(c["ours"]), f"{100 * c['share']:.0f} %"]
            if args.compile:
                cells.append(fmt_s(c["compiled"]))
            if args.authors:
                cells.append(fmt_ratio(c.get("authors_ratio", [])))
            if not args.no_memory:
                mine, theirs = c.get("ours_mem"), c.get("authors_mem")
                cells.append(f"{mine:.0f}" if mine is not None else "–")
                if theirs is not None:
                    cells[-1] += f" / {theirs:.0f}"
        lines.append("| " + " | ".join(cells) + " |")
    loads = "; ".join(f"{r['method']} {m} {r[m]['load']}" for r in rows for m in modes)
    notes = [
        "",
        f"Workloads: train = fwd + L1 bwd + Adam, batch {TRAIN_BATCH} × {TRAIN_PAN}² PAN (WV3, ratio {RATIO}); "
        f"inference = 1 × {INFER_PAN}² PAN, no_grad. {args.threads} threads, {args.device}, {args.autocast or 'fp32'}, "
        f"{args.repeats} interleaved rounds.",
        f"% matmul: reference FLOPs (bench/flops_reference.json) / median time / median {MATMUL_N}² fp32 matmul throughput "
        f"({statistics.median(gflops):.0f} GFLOP/s, range {min(gflops):.0f}–{max(gflops):.0f} over the rounds).",
        "vs authors: the authors' time / ours, per interleaved round (min / median). "
        "MiB added: peak resident set growth of one call after a warm-up, fresh subprocess.",
        f"Load average (1, 5, 15 min) before → after each timing: {loads}.",
    ]
    return "\n".join(lines + notes)


if __name__ == "__main__":
    main()
