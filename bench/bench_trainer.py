"""Benchmark the trainer and the evaluation path.

1. Trainer overhead: optimizer steps per second of the ``rsmif run`` loop (``rsmif_core.run.train.train``: Accelerate,
   loss-term logging every ``log_every`` steps, NaN checks, progress, a final checkpoint) against a bare
   PyTorch loop (DataLoader + forward + L1 + Adam) over the same model (PNN), data (the ``sample``
   Landsat-7 training patches, batch 8) and number of steps. Each timing covers the whole job (building
   data and model, the loop, and for the trainer its final checkpoint and weights). Runs alternate
   (bare, trainer, bare, …); the ratio is the median over pairs of trainer rate / bare rate, in wall
   time and in CPU time of this process (the latter is what to trust on a shared machine, where other
   processes make wall time swing by 2x). Target: >= 0.95.
2. Evaluation: 20 images of 256×256 (WV3 geometry, 8 bands) through ``evaluate`` with every reference
   metric, one image at a time: total seconds and the share spent in the metrics.

Usage::

    python bench/bench_trainer.py [--steps 150] [--repeats 3] [--images 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from _results import recorded

from rsmif_core import collate, create_dataset, create_model
from rsmif_core.config.schema import RunConfig

REFERENCE_METRICS = ["sam", "ergas", "q_index", "q2n", "scc", "psnr", "ssim", "rmse", "cc", "rase"]


def bare_loop(steps: int, seed: int = 0) -> None:
    """The plainest correct loop over the same model and data."""
    torch.manual_seed(seed)
    ds = create_dataset("sample", task="pansharpening", split="train")
    model = create_model("pnn", spectral_bands=ds.spectral_bands, guide_bands=ds.guide_bands, ratio=ds.ratio)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=True, collate_fn=collate)
    model.train()
    done = 0
    while done < steps:
        for batch in loader:
            opt.zero_grad(set_to_none=True)
            loss = F.l1_loss(model(batch).fused, batch.gt)
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    loss.item()


def trainer_loop(steps: int, seed: int = 0) -> None:
    from rich.console import Console

    from rsmif_core.run.train import train

    with tempfile.TemporaryDirectory() as tmp:
        cfg = RunConfig.model_validate({
            "model": {"name": "pnn"},
            "data": {"train": {"name": "sample", "args": {"task": "pansharpening", "split": "train"}, "batch_size": 8}},
            "loss": {"name": "l1"},
            "optim": {"name": "adam", "lr": 1e-3},
            "trainer": {"max_steps": steps, "output_dir": str(Path(tmp) / "run"), "seed": seed, "log_every": 10,
                        "checkpoint_every": 10**6, "progress": False, "log_images": False, "cpu": True},
        })
        _, accelerator = train(cfg, console=Console(quiet=True))
        accelerator.state.destroy_process_group()


def timed(job: Callable[[int], None], steps: int) -> tuple[float, float]:
    """(steps per wall second, steps per CPU second of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    job(steps)
    return steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu)


def bench_training(steps: int, repeats: int) -> None:
    bare: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    bare_loop(10)  # warm-up: imports, sample scene cache, allocator
    trainer_loop(2)
    for _ in range(repeats):
        bare.append(timed(bare_loop, steps))
        ours.append(timed(trainer_loop, steps))
    print(f"training, PNN on the sample Landsat-7 patches, batch 8, {steps} steps, {repeats} interleaved repeats")
    for i, what in enumerate(("wall", "CPU")):
        b = [x[i] for x in bare]
        o = [x[i] for x in ours]
        ratio = statistics.median(y / x for x, y in zip(b, o))
        print(f"  {what:4s} bare PyTorch loop  : median {statistics.median(b):6.2f} steps/s (runs {', '.join(f'{x:.2f}' for x in b)})")
        print(f"  {what:4s} rsmif run (Trainer): median {statistics.median(o):6.2f} steps/s (runs {', '.join(f'{x:.2f}' for x in o)})")
        print(f"  {what:4s} ratio trainer / bare (median of pairs) = {ratio:.3f}  (target >= 0.95)")


def bench_evaluation(images: int, size: int) -> None:
    from accelerate import Accelerator

    from rsmif_core.config.schema import EvalSection
    from rsmif_core.evaluation import MetricSet, evaluate
    from rsmif_core.testing import TASK_CASES, make_batch

    case = TASK_CASES["pansharpening-wv3"]
    batches = []
    for i in range(images):
        b = make_batch(case, size=size, batch_size=1, seed=i)
        b.meta.max_value, b.meta.ids = 2047.0, [f"img{i:02d}"]
        batches.append(b)
    torch.manual_seed(0)
    model = create_model("pnn", spectral_bands=8, guide_bands=1, ratio=4)
    metrics = MetricSet(REFERENCE_METRICS, EvalSection(), sensor="wv3", has_reference=True)
    acc = Accelerator(cpu=True)
    evaluate(model, batches[:1], metrics, acc)  # warm-up
    result = evaluate(model, batches, metrics, acc)
    share = result.seconds_metrics / result.seconds_total
    per_metric = {}
    with torch.no_grad():
        fused = [model(b).fused for b in batches[:3]]
    for name, metric in metrics.metrics.items():
        metric.reset()
        t0 = time.perf_counter()
        for f, b in zip(fused, batches[:3]):
            metric.update(f, b)
        metric.compute()
        per_metric[name] = (time.perf_counter() - t0) / len(fused)
    print(f"evaluation, {images} images {size}x{size} (WV3, 8 bands), one at a time, metrics: {', '.join(REFERENCE_METRICS)}")
    print(f"  total {result.seconds_total:.2f} s = model {result.seconds_model:.2f} s + metrics {result.seconds_metrics:.2f} s"
          f" ({share:.0%} in metrics; {result.seconds_total / images:.3f} s per image)")
    print("  seconds per image by metric: " + ", ".join(f"{n} {t:.3f}" for n, t in sorted(per_metric.items(), key=lambda x: -x[1])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(2)
    with recorded("bench_trainer"):
        bench_training(args.steps, args.repeats)
        bench_evaluation(args.images, args.size)


if __name__ == "__main__":
    main()
