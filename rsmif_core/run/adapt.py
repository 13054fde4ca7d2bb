"""``rsmif adapt``: target-adaptive fine-tuning of a model on the scene it is to fuse (Ciotola et al.).

A network trained on Wald-degraded patches meets a new scale, sensor and land cover at full resolution.
λ-PNN's answer, which this command applies to any method: before fusing a scene, fine-tune on the scene
itself with the unsupervised full-resolution loss (:mod:`rsmif_core.losses.full_resolution`), which needs
no reference. The adaptation is an ordinary run, assembled here and trained by :func:`rsmif_core.run.train.train`
(progress bar, checkpoints, ``--resume``, tensorboard), whose folder ``rsmif predict`` and ``rsmif test`` read:

* data: the scene's full-resolution patches (``scene_patches``: the whole scene when it is no larger
  than ``patches`` patches, else ``patches`` representative tiles), all in one batch, as λ-PNN trains;
  their sides are multiples of 32 PAN pixels, the block of the D_λ^K and D_s indices that score them;
* loss: ``lambda_pnn`` (or ``zpnn``) with the paper's weights for the sensor, or ``hqnr`` (1 − HQNR itself);
* optimizer: Adam with the paper's learning rate for the sensor (λ-PNN: weight decay 1e-4), ``steps``
  iterations (λ-PNN: 100);
* validation on the same patches every ``val_every`` steps and before the first: the loss and D_λ^K, D_s,
  HQNR; the final weights are those of the lowest loss (λ-PNN keeps its best iterate), or, with
  ``keep="hqnr"``, of the highest HQNR on the scene's patches (a no-reference choice: the λ-PNN loss can keep
  falling after HQNR has peaked); either may be the starting weights themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from rsmif_core.config.load import config_from_tree
from rsmif_core.config.schema import RunConfig
from rsmif_core.data.layout import Q_BLOCK
from rsmif_core.errors import CheckpointError, UsageError
from rsmif_core.losses.full_resolution import (
    ADAPTATION_STEPS,
    ADAPTATION_WEIGHT_DECAY,
    adaptation_learning_rate,
)
from rsmif_core.plugins.manager import registry
from rsmif_core.run.build import build_dataset
from rsmif_core.run.folder import RunFolder
from rsmif_core.run.weights import find_weights_file
from rsmif_core.training import TrainResult

LOSSES = ("lambda_pnn", "zpnn", "hqnr")
KEEP = {"loss": "min", "hqnr": "max"}  # which validation score picks the final weights, and its direction


@dataclass(frozen=True)
class AdaptRequest:
    """What ``rsmif adapt`` was asked; None: the paper's recipe or what the data says."""

    source: str  # a run folder, a weights file or a registered model name (a fresh model)
    pan: str
    ms: str
    out: str
    sensor: str
    model: str | None = None  # the model of an authors' .pth source
    ratio: int | None = None
    max_value: float | None = None
    pan_key: str | None = None
    ms_key: str | None = None
    loss: str = "lambda_pnn"
    steps: int = ADAPTATION_STEPS
    lr: float | None = None
    patches: int = 16
    patch_size: int = 256
    val_every: int = 10
    keep: str = "loss"
    seed: int = 42
    overrides: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class _Source:
    model: str
    args: dict[str, Any]
    weights: str | None  # None: a fresh model
    described: str


def adaptation_config(request: AdaptRequest) -> RunConfig:
    """The run that adapts ``request.source`` to the scene (checked like a run file; overrides applied last)."""
    if request.loss not in LOSSES:
        raise UsageError(f"--loss {request.loss!r}: expected one of {', '.join(LOSSES)}")
    if request.keep not in KEEP:
        raise UsageError(f"--keep {request.keep!r}: expected one of {', '.join(KEEP)}")
    for name, value in (("--steps", request.steps), ("--patches", request.patches),
                        ("--patch-size", request.patch_size), ("--val-every", request.val_every)):
        if value < 1:
            raise UsageError(f"{name} must be at least 1, found {value}")
    if request.lr is not None and not (math.isfinite(request.lr) and request.lr > 0):
        raise UsageError(f"--lr must be a positive number, found {request.lr}")
    source = _resolve_source(request)
    scene = {"pan": request.pan, "ms": request.ms, "sensor": request.sensor, "ratio": request.ratio,
             "max_value": request.max_value, "pan_key": request.pan_key, "ms_key": request.ms_key,
             "patch_size": request.patch_size, "patches": request.patches, "seed": request.seed,
             "alignment": math.lcm(model_alignment(source.model), Q_BLOCK)}
    scene = {k: v for k, v in scene.items() if v is not None}
    dataset = _scene_dataset(scene)
    lr = request.lr if request.lr is not None else adaptation_learning_rate(
        request.loss, dataset.sensor, int(dataset.spectral_bands))
    section = {"name": "scene_patches", "args": scene, "batch_size": len(dataset), "shuffle": False}
    tree: dict[str, Any] = {
        "model": {"name": source.model, "args": source.args, "init_from": source.weights},
        "data": {"train": section, "val": dict(section)},
        "loss": {"name": request.loss},
        "optim": {"name": "adam", "lr": lr, "weight_decay": ADAPTATION_WEIGHT_DECAY[request.loss]},
        "trainer": {"max_steps": request.steps, "output_dir": request.out, "seed": request.seed,
                    "val_every": request.val_every, "val_at_start": True, "checkpoint_every": request.val_every,
                    "best_metric": request.keep, "best_mode": KEEP[request.keep], "final_weights": "best",
                    "log_every": min(10, request.val_every)},
    }
    return config_from_tree(tree, f"rsmif adapt {request.source}", request.overrides)


def _scene_dataset(args: dict[str, Any]) -> Any:
    """The scene read and checked once before any work (its errors name the file)."""
    from rsmif_core.config.schema import DatasetSection

    return build_dataset(DatasetSection(name="scene_patches", args=args), "train")


def model_alignment(model: str) -> int:
    """What ``model`` needs its input sizes divisible by, in guide pixels (1 when it says nothing)."""
    return int(getattr(registry().get("models", model).factory, "tile_alignment", 1))


def _resolve_source(request: AdaptRequest) -> _Source:
    path = Path(request.source).expanduser()
    if path.is_dir() and RunFolder(path).config.is_file():
        saved = yaml.safe_load(RunFolder(path).config.read_text(encoding="utf-8")) or {}
        model = saved.get("model") or {}
        weights, _ = _find(path)
        return _Source(str(model.get("name")), dict(model.get("args") or {}), str(weights), f"run {path}")
    if path.exists():
        weights, meta = _find(path)
        if weights.suffix in (".pth", ".pt"):
            if request.model is None:
                raise UsageError(f"{path}: an authors' checkpoint does not say which model it holds; name it with "
                                 "--model")
            return _Source(request.model, {}, str(weights), f"{request.model} weights {weights}")
        from rsmif_core.models.weights import read_metadata

        meta = meta if meta is not None else _metadata(weights, read_metadata)
        if not meta.get("model"):
            raise UsageError(f"{weights}: the weights do not record their model; pass a run folder instead")
        return _Source(str(meta["model"]), dict(meta.get("arguments") or {}), str(weights),
                       f"{meta['model']} weights {weights}")
    if request.source in registry().names("models"):
        return _Source(request.source, {}, None, f"a fresh {request.source} model")
    raise UsageError(f"{request.source}: not a run folder, a weights file or a registered model "
                     f"({', '.join(registry().names('models'))})")


def _find(path: Path) -> tuple[Path, dict[str, Any] | None]:
    try:
        return find_weights_file(path)
    except CheckpointError as exc:
        raise UsageError(f"SOURCE: {exc.message}") from None


def _metadata(weights: Path, reader: Any) -> dict[str, Any]:
    try:
        return dict(reader(weights))
    except Exception as exc:  # safetensors raises its own error types for a damaged header
        raise UsageError(f"{weights}: not a readable weights file ({type(exc).__name__}: {exc})") from None


def adapt(request: AdaptRequest, resume: bool = False, overwrite: bool = False,
          console: Console | None = None) -> TrainResult:
    """Assemble the adaptation run of ``request`` and train it; the run folder is ready for ``rsmif predict``."""
    from rsmif_core.run.train import train

    console = console or Console()
    cfg = adaptation_config(request)
    result, accelerator = train(cfg, resume=resume, console=console, overwrite=overwrite)
    try:
        if result.exit_code == 0 and accelerator.is_main_process:
            _report(result, console, request)
    finally:
        accelerator.state.destroy_process_group()
    return result


def _report(result: TrainResult, console: Console, request: AdaptRequest) -> None:
    history = result.history
    if history:
        first, best = history[0], next((h for h in history if h["step"] == result.best_step), history[-1])
        shown = [k for k in ("loss", "hqnr", "d_lambda_k", "d_s") if k in first]
        rows = ", ".join(f"{k} {first[k]:.4g} → {best[k]:.4g}" for k in shown)
        console.print(f"adapted: {rows} (step 0 → step {result.best_step})", highlight=False)
    console.print(f"fuse the scene with: rsmif predict {request.out} --pan {request.pan} --ms {request.ms} "
                  "--out FUSED.tif", highlight=False)
