"""``rsmif predict``: a model (run folder, config + weights, or a parameter-free model's name) applied to a scene.

:func:`prepare_prediction` turns a :class:`PredictRequest` into everything the tiled pipeline
(:mod:`rsmif_core.evaluation.scene`) needs, checking it all before anything is written: the scene's grids, the
model built for the scene's band counts and ratio with its weights, the radiometric scale, the tiles (margin
from the model's receptive field, origins aligned for its strided operations), the output encoding and the
device. :func:`run_prediction` writes the output through :func:`rsmif_core.io.atomic_write`, so an interrupted
or failed run leaves nothing at the output path (an earlier file there stays as it was).
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from rsmif_core import __version__
from rsmif_core.config.load import load_config
from rsmif_core.config.schema import ModelSection, RunConfig
from rsmif_core.data.errors import DataError
from rsmif_core.data.scene import ScenePair
from rsmif_core.data.sensors import sensor_from_filename, sensor_max_value
from rsmif_core.errors import CheckpointError, RsmifError, UsageError
from rsmif_core.evaluation.scene import (
    OutputSpec,
    Scaling,
    SceneStats,
    TilePlan,
    choose_output,
    convert_to_cog,
    output_block,
    plan_tiles,
    predict_scene,
)
from rsmif_core.io import atomic_write
from rsmif_core.plugins.manager import registry
from rsmif_core.run.build import apply_runtime, build_dataset, build_model, make_accelerator
from rsmif_core.run.weights import load_into, resolve_weights
from rsmif_core.types import BatchMeta

# Margin for models that declare no receptive field (global operations, or nobody measured it): their mosaic is
# not whole-image inference anyway; this much context keeps the effect of the tile borders small for local layers.
UNBOUNDED_MARGIN = 32
SAR_GUIDE_RANGE = (-25.0, 0.0)  # dB, as the SEN12MS-CR loaders clip and scale Sentinel-1
DATASET_TASKS = {"sen12mscr": "sar-optical", "hyperpancollection": "hyperspectral", "ms-hs": "ms-hs",
                 "pancollection": "pansharpening"}

Precision = Literal["no", "bf16", "fp16"]


@dataclass
class PredictRequest:
    """What the user asked for (the command's options)."""

    source: str
    pan: Path
    ms: Path
    out: Path
    checkpoint: Path | None = None
    overrides: tuple[str, ...] = ()
    max_value: float | None = None
    sensor: str | None = None
    task: str | None = None
    guide_range: tuple[float, float] | None = None
    tile: int = 512
    margin: int | None = None
    batch_size: int = 1
    precision: Precision = "no"
    cpu: bool = False
    threads: int | None = None
    dtype: Literal["input", "float32"] = "input"
    compress: str = "deflate"
    cog: bool = False
    overwrite: bool = False


@dataclass
class PredictSetup:
    """Everything checked and built, nothing written yet. ``notes`` say what was chosen and why."""

    request: PredictRequest
    model_name: str
    model: torch.nn.Module
    weights: Path | None
    scene: ScenePair
    plan: TilePlan
    spec: OutputSpec
    scaling: Scaling
    meta: BatchMeta
    device: torch.device
    autocast: Callable[[], Any] | None
    exact: bool  # the mosaic equals whole-image inference (a declared receptive field within the margin)
    notes: list[str] = field(default_factory=list)


def _source_config(request: PredictRequest) -> tuple[RunConfig, Path | None, str]:
    """The run configuration, the weights to load (None: none given) and a word on where they came from."""
    source = Path(request.source).expanduser()
    if source.is_dir():
        if not (source / "config.yaml").is_file():
            raise UsageError(f"{source}: not a run folder (no config.yaml); give a run folder, a config file with "
                             "--checkpoint, or the name of a model without parameters")
        cfg = load_config(source / "config.yaml", request.overrides, check_paths=False)
        return cfg, request.checkpoint or source, f"run folder {source}"
    if source.is_file():
        return load_config(source, request.overrides, check_paths=False), request.checkpoint, f"config {source}"
    if ":" in request.source:  # a shipped config (PLUGIN:TASK); an unknown name is refused with a did-you-mean
        cfg = load_config(request.source, request.overrides, check_paths=False)
        return cfg, request.checkpoint, f"shipped config {request.source}"
    if registry().find("models", request.source) is None:
        known = ", ".join(registry().names("models"))
        raise UsageError(f"{request.source!r} is neither a run folder, a config file nor a registered model "
                         f"(models: {known})")
    if request.overrides:
        raise UsageError("key=value overrides need a run folder or a config file as SOURCE")
    args: dict[str, Any] = {}
    if request.checkpoint is not None:  # a weights file records the arguments it was trained with
        meta = resolve_weights(request.checkpoint).meta
        if meta.get("model") not in (None, request.source):
            raise CheckpointError(f"{request.checkpoint}: weights of model {meta.get('model')!r}, not {request.source!r}")
        args = dict(meta.get("arguments") or {})
    origin = "the registry" if request.checkpoint is None else "the registry, arguments from the weights file"
    return RunConfig(model=ModelSection(name=request.source, args=args)), request.checkpoint, origin


def _dataset_sections(cfg: RunConfig) -> list[tuple[str, Any]]:
    return [(split, s) for split in ("test_fr", "test", "val", "train") if (s := getattr(cfg.data, split)) is not None]


def _config_task(cfg: RunConfig) -> str | None:
    for _, section in _dataset_sections(cfg):
        task = section.args.get("task")
        if isinstance(task, str):
            return task
        entry = registry().find("datasets", section.name)
        if entry is not None and len(entry.tasks) == 1:
            return entry.tasks[0]
        if section.name in DATASET_TASKS:
            return DATASET_TASKS[section.name]
    return None


def _data_scale(cfg: RunConfig) -> tuple[float | None, str | None, str]:
    """``max_value`` and sensor the run's data used: from its dataset arguments, else by building its first
    dataset that builds here (its files may be on another machine)."""
    for split, section in _dataset_sections(cfg):
        value, sensor = section.args.get("max_value"), section.args.get("sensor")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value), sensor if isinstance(sensor, str) else None, f"data.{split}.args.max_value"
        for arg in section.args.values():
            if isinstance(arg, str) and (found := sensor_from_filename(arg)) is not None:
                sensor = sensor if isinstance(sensor, str) else found
        if isinstance(sensor, str) and sensor_max_value(sensor) is not None:
            return sensor_max_value(sensor), sensor, f"the sensor {sensor!r} of data.{split}"
    for split, section in _dataset_sections(cfg):
        try:
            dataset = build_dataset(section, split)
        except RsmifError:
            continue
        value = getattr(dataset, "max_value", None)
        if isinstance(value, (int, float)):
            sensor = getattr(dataset, "sensor", None)
            return float(value), sensor if isinstance(sensor, str) else None, f"the run's data.{split} ({section.name})"
    return None, None, ""


def _scale(request: PredictRequest, cfg: RunConfig, weights_meta: dict[str, Any], dtype: str, from_run: bool
           ) -> tuple[float, str, str]:
    """(max_value, sensor, where max_value came from)."""
    sensor = request.sensor
    if request.max_value is not None:
        if request.max_value <= 0:
            raise UsageError(f"--max-value must be positive, found {request.max_value:g}")
        return request.max_value, sensor or "none", "--max-value"
    if isinstance(weights_meta.get("max_value"), (int, float)):
        return float(weights_meta["max_value"]), sensor or str(weights_meta.get("sensor", "none")), "the weights file"
    if from_run and sensor is None:
        value, run_sensor, origin = _data_scale(cfg)
        if value is not None:
            return value, run_sensor or "none", origin
    if sensor is not None:
        value = sensor_max_value(sensor)
        if value is not None:
            return value, sensor, f"the sensor {sensor!r}"
    kind = np.dtype(dtype)
    if kind == np.uint8:
        return 255.0, sensor or "none", "the input dtype uint8"
    if kind.kind == "f":
        return 1.0, sensor or "none", f"the input dtype {dtype} (values taken as already scaled to [0, 1])"
    raise UsageError(f"cannot tell the radiometric scale of {dtype} inputs: give --max-value (the largest DN, e.g. 2047 "
                     "for 11-bit data) or --sensor (wv3, wv2, qb, gf2, …)")


def prepare_prediction(request: PredictRequest) -> PredictSetup:
    """Check and build everything; raise a :class:`UsageError` (nothing written) on the first problem."""
    out = Path(request.out).expanduser()
    if out.is_dir():
        raise UsageError(f"--out {out}: is a folder; give the output file's path")
    for given in (request.pan, request.ms):
        if Path(given).expanduser().resolve() == out.resolve():
            raise UsageError(f"--out {out}: is an input of this prediction")
    if out.exists() and not request.overwrite:
        raise UsageError(f"--out {out}: exists; pass --overwrite to replace it (it stays untouched until the new "
                         "file is complete)")
    for name, value in (("--tile-size", request.tile), ("--batch-size", request.batch_size - 1)):
        if value < 0:
            raise UsageError(f"{name} must be {'positive' if name == '--batch-size' else 'positive (or 0: one tile)'}")
    if request.margin is not None and request.margin < 0:
        raise UsageError("--margin must be 0 or more")

    scene = ScenePair.from_paths(request.pan, request.ms)
    cfg, weights_source, origin = _source_config(request)
    name = cfg.model.name
    task = request.task or _config_task(cfg) or _only_task(name) or "pansharpening"
    geometry = types.SimpleNamespace(spectral_bands=scene.spectral_bands, guide_bands=scene.guide_bands,
                                     ratio=scene.ratio, task=task)
    model = build_model(cfg, geometry)
    weights_path: Path | None = None
    weights_meta: dict[str, Any] = {}
    if weights_source is not None:
        weights = resolve_weights(Path(weights_source))
        try:
            load_into(model, name, weights)
        except CheckpointError as exc:
            raise CheckpointError(f"{exc.message} (the scene has {scene.spectral_bands} spectral and "
                                  f"{scene.guide_bands} guide bands at ratio {scene.ratio})") from None
        weights_path, weights_meta = weights.path, weights.meta
    elif any(True for _ in model.parameters()):
        raise UsageError(f"model {name!r} has trained weights: give a run folder, or --checkpoint (a run folder, a "
                         "checkpoint folder or a weights file)")

    max_value, sensor, scale_origin = _scale(request, cfg, weights_meta, scene.ms_info.dtype,
                                             from_run=weights_source is not None or Path(request.source).exists())
    notes = [f"model {name} from {origin}" + (f", weights {weights_path}" if weights_path else ""),
             f"scale: max_value {max_value:g} (from {scale_origin}); sensor {sensor}; task {task}"]
    scaling = _scaling(request, task, max_value, notes)

    receptive = getattr(model, "receptive_field", None)
    alignment = math.lcm(int(getattr(model, "tile_alignment", 1)), scene.ratio)
    grid = scene.grid
    if grid.height % alignment or grid.width % alignment:
        cropped = grid.cropped(alignment)
        notes.append(f"the covered region {grid.height}×{grid.width} is cut to {cropped.height}×{cropped.width} "
                     f"(a multiple of the model's tile alignment {alignment}); the rest is nodata")
        scene = scene.with_grid(cropped)
        grid = cropped
    if not grid.covers_pan:
        notes.append(f"the MS covers PAN rows {grid.row0}..{grid.row0 + grid.height} and columns "
                     f"{grid.col0}..{grid.col0 + grid.width} of {grid.pan_height}×{grid.pan_width}; the rest is nodata")
    margin = request.margin if request.margin is not None else (receptive if receptive is not None else UNBOUNDED_MARGIN)
    core = request.tile if request.tile > 0 else max(grid.height, grid.width)
    plan = plan_tiles(grid.height, grid.width, core, margin, alignment)
    whole = len(plan) == 1
    exact = whole or (receptive is not None and plan.margin >= receptive)
    window = "×".join(map(str, plan.window))
    notes.append(f"{plan.describe()} "
                 f"(receptive field {receptive if receptive is not None else 'not declared'}), windows {window}, "
                 f"alignment {alignment}, {plan.computed_pixels / (plan.height * plan.width):.3f}× the pixels computed")
    if not exact:
        notes.append(_approximate_note(name, receptive, plan.margin))

    apply_runtime(cfg.runtime)
    if request.threads is not None:
        torch.set_num_threads(request.threads)
    cfg = cfg.model_copy(deep=True)
    cfg.trainer.cpu = request.cpu or cfg.trainer.cpu
    cfg.trainer.mixed_precision = request.precision
    cfg.trainer.deterministic = False
    accelerator = make_accelerator(cfg)
    model = model.to(accelerator.device).eval()
    autocast = accelerator.autocast if request.precision != "no" else None
    notes.append(f"device {accelerator.device}, precision {'fp32' if request.precision == 'no' else request.precision}, "
                 f"batches of {request.batch_size} tile{'s' if request.batch_size > 1 else ''}")

    tags = {"RSMIF_VERSION": __version__, "RSMIF_MODEL": name, "RSMIF_SOURCE": str(request.source),
            "RSMIF_WEIGHTS": str(weights_path or ""), "RSMIF_MAX_VALUE": f"{max_value:g}",
            "RSMIF_SCALE": "value = fused · RSMIF_MAX_VALUE (the inputs' units)",
            "RSMIF_TILING": f"{plan.describe()}, alignment {alignment}",
            "RSMIF_WHOLE_IMAGE_EQUAL": "yes" if exact else "no (see RSMIF_TILING)",
            # the keys every RSMIF output records, so that `rsmif score` reads the scale and ratio from the file
            "max_value": f"{max_value:g}", "ratio": str(grid.ratio)}
    try:
        spec = choose_output(scene.pan_info, scene.ms_info, grid, request.dtype, max_value, request.compress,
                             request.cog, tags, block=(output_block(plan.core_rows), output_block(plan.core_cols)))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    nodata = "none" if spec.nodata is None else f"{spec.nodata:g}"
    notes.append(f"output {spec.dtype}, nodata {nodata}, {spec.compress}{', COG' if spec.cog else ''}, "
                 f"{grid.pan_height}×{grid.pan_width}×{scene.spectral_bands} on the PAN grid")
    meta = BatchMeta(task=task, sensor=sensor, ratio=scene.ratio, max_value=max_value)
    return PredictSetup(request, name, model, weights_path, scene, plan, spec, scaling, meta, accelerator.device,
                        autocast, exact, notes)


def _only_task(name: str) -> str | None:
    tasks = registry().get("models", name).tasks
    return tasks[0] if len(tasks) == 1 else None


def _scaling(request: PredictRequest, task: str, max_value: float, notes: list[str]) -> Scaling:
    clip = task == "sar-optical"
    if request.guide_range is not None:
        low, high = request.guide_range
        if not high > low:
            raise UsageError(f"--guide-range {low:g} {high:g}: the second value must be larger")
        notes.append(f"guide scaled from [{low:g}, {high:g}]")
        return Scaling(max_value, low, high, clip)
    if clip:
        low, high = SAR_GUIDE_RANGE
        notes.append(f"guide scaled from [{low:g}, {high:g}] dB and clipped, spectral clipped to [0, {max_value:g}] "
                     "(the SEN12MS-CR loaders' default scaling; --guide-range changes the guide's)")
        return Scaling(max_value, low, high, True)
    return Scaling(max_value)


def _approximate_note(name: str, receptive: int | None, margin: int) -> str:
    if receptive is None:
        return (f"note: model {name!r} declares no receptive field (global operations such as pooling or statistics "
                f"over the whole image, or not measured): every tile is inferred on its own with a {margin}-pixel "
                "margin, so the mosaic is not whole-image inference; larger --tile-size brings it closer "
                "(--tile-size 0: the whole scene in one tile, memory permitting)")
    return (f"note: --margin {margin} is smaller than model {name!r}'s receptive field ({receptive} px): seams may "
            "show where tiles meet")


def run_prediction(setup: PredictSetup, on_tiles: Callable[[int], None] | None = None) -> SceneStats:
    """Write the output (atomically: a temporary file beside it, renamed when complete) and return the stats."""
    out = Path(setup.request.out).expanduser()
    result: dict[str, SceneStats] = {}

    def write(tmp: Path) -> None:
        target = tmp
        staging = tmp.with_name(tmp.name + ".gtiff") if setup.spec.cog else None
        if staging is not None:
            target = staging
        try:
            result["stats"] = predict_scene(setup.model, setup.scene, target, setup.spec, setup.plan, setup.scaling,
                                            setup.meta, setup.device, setup.request.batch_size, setup.autocast,
                                            on_tiles)
            if staging is not None:
                convert_to_cog(staging, tmp, setup.spec)
        finally:
            if staging is not None:
                staging.unlink(missing_ok=True)

    atomic_write(out, write, verify=lambda tmp: _verify(tmp, setup))
    return result["stats"]


def _verify(path: Path, setup: PredictSetup) -> None:
    from rsmif_core.data.scene import open_raster

    with open_raster(path) as dst:
        info = setup.scene.pan_info
        if (dst.height, dst.width, dst.count) != (info.height, info.width, setup.scene.spectral_bands):
            raise DataError(path, f"wrote {dst.height}×{dst.width}×{dst.count}, expected "
                                  f"{info.height}×{info.width}×{setup.scene.spectral_bands}")
