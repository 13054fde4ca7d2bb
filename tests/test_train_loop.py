"""The training loop end to end on tiny generated scenes: artifacts, tensorboard content, options, bad configs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from test_train_kit import kit, kit_config, write_config  # noqa: F401  (kit is a fixture)

from rsmif_core.cli import cli
from rsmif_core.config import load_config
from rsmif_core.models.weights import load_weights


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.output


def event_tags(run_dir: Path) -> dict[str, set[str]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: dict[str, set[str]] = {"scalars": set(), "images": set(), "tensors": set()}
    for events in (run_dir / "tensorboard").rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events.parent), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
        acc.Reload()
        for kind in tags:
            tags[kind] |= set(acc.Tags().get(kind, []))
    return tags


def scalar_values(run_dir: Path, tag: str) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard" / "rsmif"), size_guidance={"scalars": 0})
    acc.Reload()
    return [e.value for e in acc.Scalars(tag)]


def test_run_trains_validates_checkpoints_and_logs(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    run_dir = tmp_path / "run"
    cfg = kit_config(run_dir, trainer={**kit_config(run_dir)["trainer"], "log_features": ["body.0", "body.2"]})
    code, out = run(["run", str(write_config(tmp_path / "cfg.yaml", cfg))])
    assert code == 0, out
    assert "tensorboard --logdir" in out

    # final weights rebuild the model: name, bands and ratio come from the data
    state, meta = load_weights(run_dir / "model.safetensors")
    assert meta["model"] == "pnn" and meta["spectral_bands"] == 4 and meta["guide_bands"] == 1 and meta["ratio"] == 4
    assert meta["step"] == 6 and state["body.0.weight"].shape == (8, 5, 9, 9)
    # the resolved config is saved and loads back as the same run, the model's arguments completed by their defaults
    saved, given = load_config(run_dir / "config.yaml").model_dump(), load_config(tmp_path / "cfg.yaml").model_dump()
    assert saved["model"]["args"] == {"channels": [8, 8], "residual": True} and given["model"]["args"] == {"channels": [8, 8]}
    assert {**saved, "model": None} == {**given, "model": None}
    assert meta["arguments"] == {"channels": [8, 8], "residual": True}

    # keep_last=2 step checkpoints plus best/, nothing half-written left behind
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert ckpts == ["best", "step_00000004", "step_00000006"]
    assert (run_dir / "checkpoints" / "best" / "model.safetensors").is_file()

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["step"] == 6 and metrics["best_metric"] == "loss" and metrics["best_mode"] == "min"
    assert [h["step"] for h in metrics["validation"]] == [3.0, 6.0]
    assert all(h["images"] == 3 for h in metrics["validation"])  # every val image once
    val = [h["kit_mae"] for h in metrics["validation"]]
    assert val[1] < val[0]  # it learns
    assert metrics["best_value"] == pytest.approx(min(h["loss"] for h in metrics["validation"]))

    tags = event_tags(run_dir)
    for tag in ("train/loss", "train/l1", "train/lr", "train/samples_per_second", "val/kit_mae", "val/loss"):
        assert tag in tags["scalars"], tag
    for tag in ("val_images/lms", "val_images/fused", "val_images/gt", "val_images/error", "features/body.0", "features/body.2"):
        assert tag in tags["images"], tag
    assert any(t.startswith("config") for t in tags["tensors"])
    losses = scalar_values(run_dir, "train/loss")
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))


def test_accumulation_clipping_sgd_schedule_and_bf16(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    run_dir = tmp_path / "run"
    trainer = {"epochs": 2, "output_dir": str(run_dir), "grad_accum_steps": 2, "grad_clip": 0.5,
               "mixed_precision": "bf16", "cpu": True, "log_every": 1, "progress": False, "log_images": False}
    cfg = kit_config(run_dir, trainer=trainer, optim={"name": "sgd", "lr": 0.01, "momentum": 0.9},
                     schedule={"name": "multistep", "milestones": [1], "gamma": 0.5, "interval": "epoch"})
    del cfg["data"]["val"]
    code, out = run(["run", str(write_config(tmp_path / "cfg.yaml", cfg))])
    assert code == 0, out
    # 8 images / batch 2 = 4 batches per epoch, 2 per optimizer step -> 2 steps per epoch, 4 in all
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["step"] == 4 and metrics["epoch"] == 2
    lrs = scalar_values(run_dir, "train/lr")
    assert lrs == pytest.approx([0.01, 0.005, 0.005, 0.005])  # x0.5 once epoch 1 starts
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["step_00000002", "step_00000004"]


def test_missing_budget_is_a_clear_error(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    cfg = kit_config(tmp_path / "run")
    del cfg["trainer"]["max_steps"]
    code, out = run(["run", str(write_config(tmp_path / "cfg.yaml", cfg))])
    assert code == 2 and "trainer.epochs or trainer.max_steps" in out


def test_unknown_feature_module_lists_the_modules(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    code, out = run(["run", str(write_config(tmp_path / "cfg.yaml", kit_config(tmp_path / "run"))), "trainer.log_features=[head]"])
    assert code != 0 and "trainer.log_features" in out and "'head'" in out and "body.0" in out


def test_existing_run_is_never_overwritten_without_resume(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    cfg = write_config(tmp_path / "cfg.yaml", kit_config(tmp_path / "run", trainer={
        **kit_config(tmp_path / "run")["trainer"], "max_steps": 2, "log_images": False}))
    assert run(["run", str(cfg)])[0] == 0
    before = (tmp_path / "run" / "model.safetensors").read_bytes()
    code, out = run(["run", str(cfg)])
    assert code == 2 and "--resume" in out and "--overwrite" in out and "nothing was changed" in out
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before
    # a folder holding only a finished model (no checkpoints/) is a run too
    shutil.rmtree(tmp_path / "run" / "checkpoints")
    code, out = run(["run", str(cfg)])
    assert code == 2 and "already holds a run" in out
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before
    code, out = run(["run", str(cfg), "--resume", "--overwrite"])
    assert code == 2 and "give one" in out
    code, out = run(["run", str(cfg), "--overwrite", "trainer.seed=5"])
    assert code == 0, out
    assert "--overwrite: removed the earlier run's" in out
    assert (tmp_path / "run" / "model.safetensors").read_bytes() != before
    code, out = run(["run", str(cfg), "--resume", f"trainer.output_dir={tmp_path / 'missing'}"])
    assert code == 2 and "does not exist" in out and not (tmp_path / "missing").exists()


def test_early_stop_after_patience_validations_without_a_new_best(kit: Path, tmp_path: Path) -> None:  # noqa: F811
    # kit_mae falls as the model learns; asking for its maximum makes every later validation "worse"
    run_dir = tmp_path / "run"
    cfg = kit_config(run_dir)
    cfg["trainer"] = {**cfg["trainer"], "max_steps": 6, "val_every": 1, "checkpoint_every": 100, "log_images": False,
                      "best_metric": "kit_mae", "best_mode": "max", "patience": 2}
    code, out = run(["run", str(write_config(tmp_path / "cfg.yaml", cfg))])
    assert code == 0, out
    assert "early stop" in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["step"] == 3 and metrics["best_step"] == 1 and metrics["best_mode"] == "max"
    assert (run_dir / "checkpoints" / "step_00000003").is_dir() and (run_dir / "model.safetensors").is_file()


def test_runtime_options_threads_and_compile_fallback(kit: Path, tmp_path: Path,  # noqa: F811
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from rsmif_core.run import build

    monkeypatch.setattr(build.shutil, "which", lambda name: None)  # a machine without a C++ compiler
    threads = torch.get_num_threads()
    cfg = kit_config(tmp_path / "run", trainer={**kit_config(tmp_path / "run")["trainer"], "max_steps": 2,
                                                 "log_images": False})
    cfg["runtime"] = {"threads": 1, "compile": True, "metric_kernels": "torch"}
    try:
        code, out = run(["run", str(write_config(tmp_path / "cfg.yaml", cfg))])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    assert code == 0, out
    assert "runtime.compile: no C++ compiler found" in out and "running the model eagerly" in out


def test_runtime_compile_uses_static_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Symbolic shapes made inductor fail on MMAPP's pyramid (torch 2.13): every input size compiles its own graph."""
    from rich.console import Console

    from rsmif_core.config.schema import RuntimeSection
    from rsmif_core.run import build

    monkeypatch.setattr(build.shutil, "which", lambda name: "/usr/bin/" + name)
    model = torch.nn.Linear(2, 2)
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(model, "compile", lambda **options: calls.append(options))
    assert build.maybe_compile(model, RuntimeSection(compile=True), Console()) is model
    assert calls == [{"dynamic": False}]

