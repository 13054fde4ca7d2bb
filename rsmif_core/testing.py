"""A reusable contract test suite for fusion models (used by the shipped plugins and the template).

Call :func:`check_model_contract` from a plugin's tests, once per :data:`TASK_CASES` entry::

    @pytest.mark.parametrize("case", TASK_CASES.values(), ids=TASK_CASES.keys())
    def test_contract(case):
        check_model_contract(MyNet, case)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load, save

from rsmif_core.ops.threads import single_thread as single_thread  # re-exported for tests of tiny tensors
from rsmif_core.types import Batch, BatchMeta, FusionModel, FusionOutput, LossOutput


@dataclass(frozen=True)
class TaskCase:
    """One task geometry: band counts of the spectral image and the guide, and their ratio."""

    task: str
    spectral_bands: int
    guide_bands: int
    ratio: int
    sensor: str = "none"


TASK_CASES: dict[str, TaskCase] = {
    "pansharpening-wv3": TaskCase("pansharpening", 8, 1, 4, "wv3"),
    "pansharpening-qb": TaskCase("pansharpening", 4, 1, 4, "qb"),
    "pansharpening-landsat-ratio2": TaskCase("pansharpening", 6, 1, 2, "none"),
    "hyperspectral": TaskCase("hyperspectral", 102, 1, 4, "none"),
    "sar-optical": TaskCase("sar-optical", 13, 2, 1, "none"),
    "ms-hs": TaskCase("ms-hs", 31, 3, 4, "none"),
}


def make_batch(case: TaskCase, size: int = 16, batch_size: int = 2, seed: int = 0, dtype: torch.dtype = torch.float32) -> Batch:
    """A random but self-consistent batch: the guide follows the reference (its band mean plus noise, as a PAN
    follows the MS it images), ms is an area-downsampled gt, lms its bicubic upsampling."""
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(batch_size, case.spectral_bands, size, size, generator=g, dtype=dtype)
    noise = torch.rand(batch_size, case.guide_bands, size, size, generator=g, dtype=dtype)
    pan = 0.8 * gt.mean(1, keepdim=True) + 0.2 * noise
    if case.ratio == 1:
        ms = (gt + 0.1 * torch.rand(gt.shape, generator=g, dtype=dtype)).clamp(0, 1)
        lms = ms.clone()
    else:
        ms = F.avg_pool2d(gt, case.ratio)
        lms = F.interpolate(ms, scale_factor=case.ratio, mode="bicubic", align_corners=False)
    meta = BatchMeta(task=case.task, sensor=case.sensor, ratio=case.ratio, max_value=1.0, ids=[str(i) for i in range(batch_size)])
    return Batch(pan=pan, ms=ms, lms=lms, gt=gt, meta=meta)


def _matches(name: str, patterns: Iterable[str]) -> bool:
    import re

    return any(re.search(p, name) for p in patterns)


def check_output(model: FusionModel, batch: Batch) -> FusionOutput:
    out = model(batch)
    assert isinstance(out, FusionOutput), f"forward must return FusionOutput, got {type(out).__name__}"
    assert out.fused.shape == batch.lms.shape, f"fused shape {tuple(out.fused.shape)} != lms shape {tuple(batch.lms.shape)}"
    assert out.fused.dtype == batch.lms.dtype, f"fused dtype {out.fused.dtype} != input dtype {batch.lms.dtype}"
    assert torch.isfinite(out.fused).all(), "fused output has NaN or inf"
    return out


def check_gradients(model: FusionModel, batch: Batch, unused: Iterable[str] = ()) -> None:
    """Every parameter (except names matching ``unused``) gets a finite, non-zero gradient."""
    model.train()
    model.zero_grad(set_to_none=True)
    out = model(batch)
    loss = F.l1_loss(out.fused, batch.gt) if batch.gt is not None else out.fused.abs().mean()
    for value in out.extras.values():
        loss = loss + 1e-3 * value.float().abs().mean()
    loss.backward()
    missing = [
        n for n, p in model.named_parameters()
        if p.requires_grad and not _matches(n, unused) and (p.grad is None or not torch.isfinite(p.grad).all() or not p.grad.abs().sum() > 0)
    ]
    assert not missing, f"parameters without a useful gradient: {missing[:10]}{' …' if len(missing) > 10 else ''}"


def check_eval_determinism(model: FusionModel, batch: Batch) -> None:
    model.eval()
    with torch.no_grad():
        a = model(batch).fused
        b = model(batch).fused
    assert torch.equal(a, b), "two eval-mode forwards of the same batch differ"


def check_state_dict_roundtrip(factory: Callable[..., FusionModel], model: FusionModel, batch: Batch, **kwargs: Any) -> None:
    """Weights saved to safetensors bytes and loaded into a fresh model give the same output."""
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    restored = load(save(state))
    torch.manual_seed(12345)  # a different initialisation than the original
    twin = factory(**kwargs)
    twin.load_state_dict(restored, strict=True)
    model.eval()
    twin.eval()
    with torch.no_grad():
        assert torch.equal(model(batch).fused, twin(batch).fused), "output changed after a safetensors round trip"


def check_device_move(model: FusionModel, batch: Batch) -> None:
    """The model follows ``.to()`` (dtype here; the accelerator too when one is present)."""
    targets: list[Any] = [torch.float64]
    if torch.cuda.is_available():
        targets.append("cuda")
    for target in targets:
        moved = model.to(target)
        moved_batch = batch.to(target)
        with torch.no_grad():
            out = moved.eval()(moved_batch).fused
        ref = moved_batch.lms
        assert out.dtype == ref.dtype and out.device == ref.device, f"output not on {target}"
    model.to(torch.float32).to("cpu")


def check_model_contract(
    model_cls: Callable[..., FusionModel],
    case: TaskCase,
    size: int = 16,
    hyper: dict[str, Any] | None = None,
    unused_parameters: Iterable[str] = (),
) -> FusionModel:
    """Run the whole contract on one task geometry and return the built model."""
    kwargs = dict(spectral_bands=case.spectral_bands, guide_bands=case.guide_bands, ratio=case.ratio, **(hyper or {}))
    torch.manual_seed(0)
    model = model_cls(**kwargs)
    assert isinstance(model, FusionModel), f"{model_cls} does not build a FusionModel"
    batch = make_batch(case, size=size)
    model.eval()
    with torch.no_grad():
        check_output(model, batch)
    check_eval_determinism(model, batch)
    if any(p.requires_grad for p in model.parameters()):
        check_gradients(model, batch, unused_parameters)
    check_state_dict_roundtrip(model_cls, model, batch, **kwargs)
    check_device_move(model, batch)
    return model


def train_briefly(
    model: FusionModel,
    loss_fn: Callable[[FusionOutput, Batch], LossOutput],
    batch: Batch,
    steps: int = 20,
    lr: float = 1e-3,
) -> tuple[float, float]:
    """Fit one batch for a few Adam steps; return the first and last loss (the last should be lower)."""
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        value = loss_fn(model(batch), batch).total
        value.backward()
        opt.step()
        losses.append(float(value.detach()))
    return losses[0], losses[-1]


def check_plugin_discovery(distribution: str, **registered: Iterable[str]) -> dict[str, Any]:
    """The installed ``distribution`` is found through its ``rsmif`` entry point.

    Loads the plugins afresh, as ``rsmif plugins`` does, and checks that a plugin of that distribution is
    listed, loaded without error, and registered the given names, e.g.
    ``check_plugin_discovery("rsmif-mynet", models=["mynet"], losses=["mynet_loss"])``. Returns that
    plugin's description (as ``rsmif plugins --json`` prints it). Unlike importing the module, this fails
    when the entry point in pyproject.toml is missing or wrong.
    """
    from rsmif_core.plugins.manager import normalise_distribution, plugin_infos, reset_plugins
    from rsmif_core.plugins.registry import KINDS

    unknown = set(registered) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; expected some of {', '.join(KINDS)}")
    reset_plugins()
    try:
        listed = [info.as_dict() for info in plugin_infos()]
    finally:
        reset_plugins()
    wanted = normalise_distribution(distribution)
    mine = [p for p in listed if normalise_distribution(p["distribution"]) == wanted]
    assert mine, (
        f"no plugin of distribution {distribution!r} is listed (found: {sorted({p['distribution'] for p in listed})}); "
        "is it installed (pip install -e .) with a [project.entry-points.rsmif] entry?"
    )
    errors = [f"{p['name']}: {p['error']}" for p in mine if p["error"]]
    assert not errors, f"{distribution} failed to load: {'; '.join(errors)}"
    for kind, names in registered.items():
        found = {n for p in mine for n in p["registered"].get(kind, [])}
        missing = sorted(set(names) - found)
        assert not missing, f"{distribution} did not register {kind} {missing}; it registered {sorted(found) or 'none'}"
    return dict(mine[0])


def find_shared(start: str | Path) -> Path | None:
    """The project's read-only reference folder for tests and benchmarks: ``$RSMIF_SHARED`` if set, else the
    first ``shared/`` beside ``start`` or one of its parents (a checkout's ``../shared``). ``None`` when there
    is none: tests that need it skip, and nothing installed ever needs it."""
    from rsmif_core.config.environment import read_environment

    override = read_environment().shared
    if override is not None:
        return override if override.is_dir() else None
    for folder in Path(start).resolve().parents:
        candidate = folder / "shared"
        if (candidate / "reference").is_dir():
            return candidate
    return None


def check_shipped_configs(plugin: str) -> dict[str, Any]:
    """Every config ``plugin`` registers (``register_configs``) loads and validates: a config named after a task
    alone (``mynet:pansharpening``, the built-in sample data) with its data paths checked, the others (public
    collections that are downloaded separately) without. Returns ``{name: RunConfig}``."""
    from rsmif_core.config import load_config
    from rsmif_core.plugins.manager import registry
    from rsmif_core.types import TASKS

    entries = [e for e in registry().entries("configs") if e.plugin == plugin]
    assert entries, f"plugin {plugin!r} registers no configs (a register_configs hook in its plugin module)"
    loaded = {}
    for entry in entries:
        assert Path(str(entry.factory)).is_file(), f"{entry.name}: {entry.factory} is not in the installed package"
        loaded[entry.name] = load_config(entry.name, check_paths=entry.name.partition(":")[2] in TASKS)
    return loaded


def check_commands_run_clean(commands: Iterable[Iterable[str]], timeout: float = 900) -> str:
    """Run each ``rsmif`` command line (a list of arguments) as a user does, in a fresh Python process with every
    warning an error (``-W error``: a warning that the test process's own filters or earlier imports would hide
    fails the check too); fail on the first that exits non-zero. Returns what the processes printed."""
    import subprocess
    import sys

    printed = []
    for command in commands:
        args = list(command)
        result = subprocess.run([sys.executable, "-W", "error", "-m", "rsmif_core.cli", *args],
                                capture_output=True, text=True, timeout=timeout)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"rsmif {' '.join(args)}: exit status {result.returncode}:\n{output[-6000:]}"
        printed.append(output)
    return "".join(printed)


def check_configs_train(names: Iterable[str], out_dir: Path, *overrides: str, timeout: float = 900) -> None:
    """``rsmif run NAME trainer.max_steps=2 …`` for each shipped config, each in a fresh process (see
    :func:`check_commands_run_clean`): two optimizer steps, validation, the test splits, no warning. Extra
    ``overrides`` (``data.train.batch_size=2``) apply to every run."""
    names = list(names)
    runs = {name: Path(out_dir) / name.replace(":", "-") for name in names}
    check_commands_run_clean(
        [["run", name, "trainer.max_steps=2", f"trainer.output_dir={folder}", "trainer.progress=false", *overrides]
         for name, folder in runs.items()], timeout)
    for name, folder in runs.items():
        assert (folder / "model.safetensors").is_file(), f"{name}: no {folder / 'model.safetensors'}"


def check_wheel_ships_configs(project: str | Path, out_dir: Path, timeout: float = 300) -> list[str]:
    """Build the wheel of the plugin at ``project`` (its folder with pyproject.toml) into ``out_dir`` without
    build isolation, and check that every ``src/PACKAGE/configs/*.yaml`` of the source is inside it. Returns the
    wheel's config files (``PACKAGE/configs/NAME.yaml``). The build runs on a copy of the source (without
    ``build/`` and ``*.egg-info``), so no earlier build's files can reach the wheel and the checkout stays clean."""
    import shutil
    import subprocess
    import sys
    import zipfile

    project = Path(project)
    sources = sorted(p.relative_to(project / "src").as_posix() for p in (project / "src").glob("*/configs/*.yaml"))
    assert sources, f"{project}: no src/PACKAGE/configs/*.yaml to ship"
    copy = Path(out_dir) / "source"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    wheel_dir = Path(out_dir) / "wheel"
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                             "--wheel-dir", str(wheel_dir), str(copy)], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"pip wheel {project} exited with {result.returncode}:\n{result.stderr[-3000:]}"
    wheels = sorted(wheel_dir.glob("*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {wheel_dir}, found {[w.name for w in wheels]}"
    with zipfile.ZipFile(wheels[0]) as wheel:
        shipped = sorted(n for n in wheel.namelist() if "/configs/" in n and n.endswith(".yaml"))
    missing = sorted(set(sources) - set(shipped))
    assert not missing, f"{wheels[0].name} lacks {missing} (package-data in pyproject.toml)"
    return shipped
