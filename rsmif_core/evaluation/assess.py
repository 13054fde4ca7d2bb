"""``rsmif test``: score a trained model on a test split, print mean ± std, write rows and images."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from rich.console import Console
from torch.utils.data import DataLoader

from rsmif_core.config.schema import RunConfig
from rsmif_core.evaluation.export import safe_name, save_geotiff, save_mat
from rsmif_core.evaluation.report import summary_table, write_csv, write_json
from rsmif_core.evaluation.runner import EvalResult, ItemBatch, collate_with_extras, evaluate, summarize
from rsmif_core.evaluation.scoring import MetricSet
from rsmif_core.evaluation.weights import load_into, resolve_weights
from rsmif_core.training.builders import build_dataset, build_model_for, fresh_accelerator_state, use_cpu
from rsmif_core.training.errors import TrainingError

Kind = Literal["rr", "fr"]


@dataclass
class TestReport:
    kind: str
    result: EvalResult
    summary: dict[str, dict[str, float]]
    out_dir: Path
    weights: Path

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "weights": str(self.weights),
            "summary": self.summary,
            "rows": self.result.rows(),
            "seconds": {
                "total": self.result.seconds_total,
                "model": self.result.seconds_model,
                "metrics": self.result.seconds_metrics,
            },
        }


def run_test(
    cfg: RunConfig,
    checkpoint: Path,
    kind: Kind,
    save: Literal["mat", "tif"] | None = None,
    out_dir: Path | None = None,
    accelerator: Any = None,
    console: Console | None = None,
) -> TestReport:
    """Evaluate ``checkpoint`` on ``data.test`` (rr, reference metrics) or ``data.test_fr`` (fr, no-reference)."""
    console = console or Console()
    section = cfg.data.test if kind == "rr" else cfg.data.test_fr
    key = "data.test" if kind == "rr" else "data.test_fr"
    if section is None:
        raise TrainingError(f"{key}: not set in the config; --type {kind} needs it", exit_code=2)
    dataset = build_dataset(section, key.removeprefix("data."))
    has_reference = bool(getattr(dataset, "has_reference", True))
    if kind == "rr" and not has_reference:
        raise TrainingError(f"{key} ({section.name}): --type rr needs reference images, and this dataset has none", 2)
    names = cfg.eval.rr_metrics if kind == "rr" else cfg.eval.fr_metrics
    try:
        metrics = MetricSet(names, cfg.eval, str(getattr(dataset, "sensor", "none")), has_reference)
    except ValueError as exc:
        raise TrainingError(f"eval.{kind}_metrics: {exc}", exit_code=2) from None
    model = build_model_for(cfg, dataset)
    weights = resolve_weights(checkpoint)
    load_into(model, cfg.model.name, weights)
    if accelerator is None:
        from accelerate import Accelerator

        fresh_accelerator_state()
        accelerator = Accelerator(cpu=use_cpu(cfg.trainer.cpu), mixed_precision=cfg.trainer.mixed_precision)
    loader = DataLoader(
        dataset, batch_size=cfg.eval.batch_size, shuffle=False, num_workers=section.num_workers, collate_fn=collate_with_extras
    )
    model, loader = accelerator.prepare(model, loader)
    out = out_dir or Path(cfg.trainer.output_dir) / f"test_{kind}"
    on_batch = _exporter(save, out / "images") if save else None
    result = evaluate(model, loader, metrics, accelerator, on_batch=on_batch)
    summary = summarize(result.values)
    report = TestReport(kind, result, summary, out, weights.path)
    if accelerator.is_main_process:
        write_csv(out / "per_image.csv", result.rows())
        write_json(out / "per_image.json", report.as_dict())
        directions = {n: metrics.higher_is_better(n) for n in metrics.names}
        title = f"{cfg.model.name} on {section.name} ({'reduced' if kind == 'rr' else 'full'} resolution, {len(result.ids)} images)"
        console.print(summary_table(title, summary, directions))
        share = result.seconds_metrics / result.seconds_total if result.seconds_total > 0 else 0.0
        console.print(
            f"{result.seconds_total:.2f} s ({share:.0%} in metrics); per-image rows: {out / 'per_image.csv'}",
            highlight=False,
        )
    return report


def _exporter(save: str, folder: Path) -> Any:
    def write(fused: torch.Tensor, local: ItemBatch, index: int) -> None:
        batch = local.batch
        for i, image_id in enumerate(batch.meta.ids):
            extras = local.extras[i]
            name = safe_name(image_id)
            if save == "mat":
                info = {"id": image_id, "sensor": batch.meta.sensor, "task": batch.meta.task, "ratio": batch.meta.ratio}
                save_mat(folder / f"{name}.mat", fused[i], batch.meta.max_value, info)
            else:
                save_geotiff(
                    folder / f"{name}.tif",
                    fused[i],
                    batch.meta.max_value,
                    float(batch.lms[i].min()),
                    crs=extras.get("crs"),
                    transform=extras.get("transform"),
                )

    return write


def record_in_run(run_dir: Path, report: TestReport, is_main: bool) -> None:
    """Add a test phase's mean ± std to the run's ``metrics.json`` (main process only)."""
    if not is_main:
        return
    path = run_dir / "metrics.json"
    payload = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    payload[f"test_{report.kind}"] = {"summary": report.summary, "rows": str(report.out_dir / "per_image.csv")}
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
