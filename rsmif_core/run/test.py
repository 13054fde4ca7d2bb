"""``rsmif test``: score a trained model on a test split, one image at a time; write rows and images."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from torch.utils.data import DataLoader

from rsmif_core.config.schema import RunConfig
from rsmif_core.errors import RunFailure, UsageError
from rsmif_core.evaluation.export import Dtype, image_exporter
from rsmif_core.evaluation.report import summary_table, write_csv
from rsmif_core.evaluation.runner import EvalResult, collate_with_extras, evaluate, summarize
from rsmif_core.io import describe_os_error, write_json
from rsmif_core.models.weights import plain
from rsmif_core.run.build import (
    apply_runtime,
    build_dataset,
    build_metrics,
    build_model,
    loader_workers,
    make_accelerator,
)
from rsmif_core.run.weights import load_into, resolve_weights

Kind = Literal["rr", "fr"]


@dataclass
class TestReport:
    kind: str
    result: EvalResult
    summary: dict[str, dict[str, float]]
    out_dir: Path
    weights: Path | None
    directions: dict[str, bool] = field(default_factory=dict)
    title: str = ""
    model: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """What ``per_image.json`` holds: the method, the test set it was scored on, mean ± std, every row."""
        return {
            "kind": self.kind,
            "model": self.model,
            "arguments": self.arguments,
            "weights": None if self.weights is None else str(self.weights),
            "dataset": self.dataset,
            "higher_is_better": self.directions,
            "summary": self.summary,
            "rows": self.result.rows(),
            "seconds": {
                "total": self.result.seconds_total,
                "model": self.result.seconds_model,
                "metrics": self.result.seconds_metrics,
            },
        }


TEST_OUTPUTS = ("per_image.csv", "per_image.json", "images")


def check_test_folder(out: Path, overwrite: bool) -> list[Path]:
    """What an earlier test left in ``out`` (to be replaced with ``overwrite``); a usage error without it."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file, not a folder; give --out a folder")
    earlier = [out / name for name in TEST_OUTPUTS if (out / name).exists()]
    if earlier and not overwrite:
        raise UsageError(f"{out} already holds a test ({', '.join(p.name for p in earlier)}); pass --overwrite to "
                         "replace it or --out a new folder (nothing was changed)")
    return earlier


def default_test_folder(root: Path, kind: str, overwrite: bool) -> Path:
    """Where a test goes without ``--out``: ``root/test_<kind>``, or, when that already holds a test (e.g. the one
    the run wrote at its end) and ``overwrite`` is not asked, the first ``root/test_<kind>_<n>`` that holds none."""
    first = root / f"test_{kind}"
    candidate, n = first, 1
    while not overwrite and candidate.exists() and (
            not candidate.is_dir() or any((candidate / name).exists() for name in TEST_OUTPUTS)):
        n += 1
        candidate = root / f"test_{kind}_{n}"
    return candidate


STAGING = ".rsmif-staging"


def publish(stage: Path, out: Path) -> None:
    """Move a finished test's outputs from ``stage`` into ``out``, each replacing its earlier version only once
    the new one is complete (an earlier file stays byte-identical if anything fails before); what the earlier
    test wrote and this one did not (its images) goes too, so the folder holds one test."""
    produced = {p.name for p in stage.iterdir()}
    for new in sorted(stage.iterdir()):
        target = out / new.name
        old = out / f".old-{new.name}"
        try:
            if target.exists():
                os.replace(target, old)
            os.replace(new, target)
        except OSError as exc:
            if old.exists() and not target.exists():
                os.replace(old, target)
            raise RunFailure(f"could not move the new {new.name} into {out}: {describe_os_error(exc)}") from None
        if old.exists():
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    stage.rmdir()
    for name in set(TEST_OUTPUTS) - produced:
        stale = out / name
        if stale.exists():
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()


def run_test(
    cfg: RunConfig,
    checkpoint: Path | None,
    kind: Kind,
    save: Literal["mat", "tif"] | None = None,
    out_dir: Path | None = None,
    accelerator: Any = None,
    console: Console | None = None,
    overwrite: bool = False,
    dtype: Dtype = "float32",
) -> TestReport:
    """Evaluate ``checkpoint`` on ``data.test`` (rr, reference metrics) or ``data.test_fr`` (fr, no-reference).

    ``checkpoint`` may be None for a model without parameters. An output folder holding an earlier test is
    refused unless ``overwrite``. Prints the table on the main process.
    """
    console = console or Console()
    out = out_dir or Path(cfg.trainer.output_dir) / f"test_{kind}"
    check_test_folder(out, overwrite)
    section = cfg.data.test if kind == "rr" else cfg.data.test_fr
    key = "data.test" if kind == "rr" else "data.test_fr"
    if section is None:
        raise UsageError(f"{key}: not set in the config; --type {kind} needs it")
    dataset = build_dataset(section, key.removeprefix("data."))
    if kind == "rr" and not bool(getattr(dataset, "has_reference", True)):
        raise UsageError(f"{key} ({section.name}): --type rr needs reference images, and this dataset has none")
    names = cfg.eval.rr_metrics if kind == "rr" else cfg.eval.fr_metrics
    metrics = build_metrics(names, cfg.eval, cfg.runtime, dataset, f"eval.{kind}_metrics")
    model = build_model(cfg, dataset)
    weights_path = None
    if checkpoint is not None:
        weights = resolve_weights(checkpoint)
        load_into(model, cfg.model.name, weights)
        weights_path = weights.path
    elif any(True for _ in model.parameters()):
        raise UsageError(f"model {cfg.model.name!r} has trained weights: give --checkpoint (a run folder, a "
                         "checkpoint folder or a weights file)")
    if accelerator is None:
        apply_runtime(cfg.runtime)
        accelerator = make_accelerator(cfg)
    loader = DataLoader(dataset, batch_size=cfg.eval.batch_size, shuffle=False, num_workers=loader_workers(section, key),
                        collate_fn=collate_with_extras)
    arguments = plain(getattr(model, "arguments", {}))
    model, loader = accelerator.prepare(model, loader)
    stage = out / STAGING  # everything is written here first; an earlier test stays until the new one is done
    if accelerator.is_main_process and stage.exists():
        shutil.rmtree(stage)  # left by a test that was killed
    accelerator.wait_for_everyone()
    on_batch = image_exporter(save, stage / "images", dtype) if save else None
    try:
        result = evaluate(model, loader, metrics, accelerator, on_batch=on_batch)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    directions = {n: metrics.higher_is_better(n) for n in metrics.names}
    title = (f"{cfg.model.name} on {section.name} ({'reduced' if kind == 'rr' else 'full'} resolution, "
             f"{len(result.ids)} images)")
    identity = {"name": section.name, "args": section.args, "ids": list(result.ids),
                "sensor": str(getattr(dataset, "sensor", "none")), "ratio": int(dataset.ratio),
                "max_value": float(getattr(dataset, "max_value", 1.0))}
    report = TestReport(kind, result, summarize(result.values), out, weights_path, directions, title,
                        cfg.model.name, arguments, identity)
    if accelerator.is_main_process:
        try:
            write_csv(stage / "per_image.csv", result.rows())
            write_json(stage / "per_image.json", report.as_dict())
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        publish(stage, out)
        console.print(summary_table(title, report.summary, directions))
        share = result.seconds_metrics / result.seconds_total if result.seconds_total > 0 else 0.0
        console.print(f"{result.seconds_total:.2f} s ({share:.0%} in metrics); per-image rows: {out / 'per_image.csv'}",
                      highlight=False)
    return report
