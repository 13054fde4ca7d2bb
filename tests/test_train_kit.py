"""A tiny plugin for the trainer and evaluation tests: a generated dataset, two metrics and two test losses.

It is loaded through a real ``rsmif`` entry point (see :func:`install_kit`), so subprocess runs
(``rsmif run``, ``torchrun``) see it too. The trainer tests never need the data or metrics packages.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import Tensor
from torchmetrics import Metric

from rsmif_core import hookimpl
from rsmif_core.types import Batch, FusionOutput, LossOutput

TESTS_DIR = Path(__file__).resolve().parent


class TinyScenes(torch.utils.data.Dataset):
    """``count`` small self-consistent scenes (gt area-downsampled to ms, bicubic lms), values in [0, 1]."""

    def __init__(
        self,
        count: int = 8,
        size: int = 16,
        bands: int = 4,
        guide_bands: int = 1,
        ratio: int = 4,
        sensor: str = "qb",
        reference: bool = True,
        max_value: float = 2047.0,
        seed: int = 0,
        georeferenced: bool = False,
        nan_item: int | None = None,
    ) -> None:
        self.task, self.sensor, self.ratio, self.max_value = "pansharpening", sensor, ratio, max_value
        self.spectral_bands, self.guide_bands, self.has_reference = bands, guide_bands, reference
        self.count, self.size, self.seed, self.georeferenced = count, size, seed, georeferenced
        self.nan_item = nan_item

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, Any]:
        g = torch.Generator().manual_seed(self.seed * 1000 + index)
        yy, xx = torch.meshgrid(torch.linspace(0, 1, self.size), torch.linspace(0, 1, self.size), indexing="ij")
        phase = torch.rand(self.spectral_bands, 1, 1, generator=g) * 6
        gt = (0.5 + 0.4 * torch.sin(6 * xx + phase) * torch.cos(5 * yy + phase)).float()
        gt = (gt + 0.02 * torch.rand(gt.shape, generator=g)).clamp(0, 1)
        pan = gt.mean(0, keepdim=True).repeat(self.guide_bands, 1, 1)
        if index == self.nan_item:
            pan[0, 0, 0] = float("nan")  # a corrupt pixel in one item of the data
        ms = F.avg_pool2d(gt[None], self.ratio)[0]
        lms = F.interpolate(ms[None], scale_factor=self.ratio, mode="bicubic", align_corners=False)[0]
        item: dict[str, Any] = {
            "pan": pan, "ms": ms, "lms": lms, "gt": gt if self.has_reference else None,
            "task": self.task, "sensor": self.sensor, "ratio": self.ratio, "max_value": self.max_value,
            "id": f"scene/{index:03d}",
        }
        if self.georeferenced:
            item["crs"] = "EPSG:32631"
            item["transform"] = (0.5, 0.0, 594000.0 + index, 0.0, -0.5, 5760000.0)
        return item


class KitMAE(Metric):
    """Per-image mean absolute error against gt (needs a reference)."""

    needs_reference = True
    higher_is_better = False

    def __init__(self, sensor: str | None = None, border: int = 0, clip: bool = False, block_size: int = 32,
                 protocol: str = "toolbox", kernels: str = "numba", sync_on_compute: bool = True) -> None:
        super().__init__(sync_on_compute=sync_on_compute)
        self.add_state("values", default=[], dist_reduce_fx="cat")

    def update(self, fused: Tensor, batch: Batch) -> None:
        assert batch.gt is not None
        self.values.append((fused - batch.gt).abs().flatten(1).mean(1))

    def compute(self) -> Tensor:
        return torch.cat(self.values) if self.values else torch.empty(0)


class KitSpectralGap(Metric):
    """Per-image mean |fused - lms| (no reference), a stand-in for D_lambda in these tests."""

    needs_reference = False
    higher_is_better = False

    def __init__(self, sensor: str | None = None, border: int = 0, clip: bool = False, block_size: int = 32,
                 protocol: str = "toolbox", kernels: str = "numba", sync_on_compute: bool = True) -> None:
        super().__init__(sync_on_compute=sync_on_compute)
        self.add_state("values", default=[], dist_reduce_fx="cat")

    def update(self, fused: Tensor, batch: Batch) -> None:
        self.values.append((fused - batch.lms).abs().flatten(1).mean(1))

    def compute(self) -> Tensor:
        return torch.cat(self.values) if self.values else torch.empty(0)


class SignalAtCall(torch.nn.Module):
    """L1 that sends ``signum`` to its own process on forward call number ``at`` (a deterministic Ctrl-C)."""

    def __init__(self, at: int, signum: int = int(signal.SIGTERM)) -> None:
        super().__init__()
        self.at, self.signum, self.calls = at, signum, 0

    def forward(self, output: FusionOutput, batch: Batch) -> LossOutput:
        self.calls += 1
        if self.calls == self.at and torch.is_grad_enabled():
            os.kill(os.getpid(), self.signum)
        value = F.l1_loss(output.fused, batch.gt)
        return LossOutput(value, {"l1": value.detach()})


class NaNAfter(torch.nn.Module):
    """L1 plus a second term, that turns NaN from forward call ``after`` on."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after, self.calls = after, 0

    def forward(self, output: FusionOutput, batch: Batch) -> LossOutput:
        self.calls += 1
        value = F.l1_loss(output.fused, batch.gt)
        smooth = 0.1 * output.fused.diff(dim=-1).abs().mean()
        total = value + smooth
        if self.calls >= self.after and torch.is_grad_enabled():
            total = total * float("nan")
        return LossOutput(total, {"l1": value.detach(), "smooth": smooth.detach()})


def fill_disk(path: Path) -> None:
    """Grow ``path`` until its disk is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


class FillDiskAt(torch.nn.Module):
    """L1 that, on forward call ``at``, fills the disk holding ``target`` (a file that grows until ENOSPC)."""

    def __init__(self, at: int, target: str) -> None:
        super().__init__()
        self.at, self.path, self.calls = at, target, 0

    def forward(self, output: FusionOutput, batch: Batch) -> LossOutput:
        self.calls += 1
        if self.calls == self.at and torch.is_grad_enabled():
            fill_disk(Path(self.path))
        value = F.l1_loss(output.fused, batch.gt)
        return LossOutput(value, {"l1": value.detach()})


@hookimpl
def register_datasets(register: Any) -> None:
    register("kit_scenes", TinyScenes, description="tiny generated scenes for trainer tests")


@hookimpl
def register_metrics(register: Any) -> None:
    register("kit_mae", KitMAE)
    register("kit_gap", KitSpectralGap)


@hookimpl
def register_losses(register: Any) -> None:
    register("kit_signal", SignalAtCall)
    register("kit_nan", NaNAfter)
    register("kit_fill_disk", FillDiskAt)


# ----- helpers for the test files -----------------------------------------------------------------

def write_kit_distribution(root: Path) -> Path:
    """A ``*.dist-info`` in ``root`` whose ``rsmif`` entry point is this module."""
    info = root / "rsmif_trainkit-0.0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rsmif-trainkit\nVersion: 0.0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[rsmif]\ntrainkit = test_train_kit\n", encoding="utf-8")
    return root


def kit_env(root: Path) -> dict[str, str]:
    """Environment for a subprocess that should load the kit (and nothing it does not need)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), str(root), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["RSMIF_LOAD_PLUGINS"] = "rsmif-trainkit"
    env["OMP_NUM_THREADS"] = "1"
    return env


def _load_kit(mp: pytest.MonkeyPatch, root: Path) -> None:
    """Put the kit's dist-info (and the tests folder, its module) on sys.path and load only that plugin."""
    from rsmif_core.plugins.manager import PluginSelection, reset_plugins

    mp.syspath_prepend(str(root))
    mp.syspath_prepend(str(TESTS_DIR))
    reset_plugins(PluginSelection(only=frozenset({"rsmif-trainkit"})))


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Load the kit as an installed plugin for this test; yields the folder holding its dist-info."""
    from rsmif_core.plugins.manager import reset_plugins

    root = write_kit_distribution(tmp_path / "site")
    _load_kit(monkeypatch, root)
    yield root
    reset_plugins()


@pytest.fixture(scope="module")
def kit_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Like :func:`kit`, once for a whole test module (for fixtures that train once and test many times)."""
    from rsmif_core.plugins.manager import reset_plugins

    root = write_kit_distribution(tmp_path_factory.mktemp("site"))
    with pytest.MonkeyPatch.context() as mp:
        _load_kit(mp, root)
        yield root
    reset_plugins()


def kit_config(run_dir: Path, **sections: Any) -> dict[str, Any]:
    """A small run config on the kit's data; keyword arguments update sections (dicts merge one level)."""
    cfg: dict[str, Any] = {
        "model": {"name": "pnn", "args": {"channels": [8, 8]}},
        "data": {
            "train": {"name": "kit_scenes", "args": {"count": 8}, "batch_size": 2},
            "val": {"name": "kit_scenes", "args": {"count": 3, "seed": 1}, "batch_size": 2},
        },
        "loss": {"name": "l1"},
        "optim": {"name": "adam", "lr": 1e-3},
        "trainer": {"max_steps": 6, "output_dir": str(run_dir), "seed": 3, "log_every": 2, "val_every": 3,
                    "checkpoint_every": 2, "keep_last": 2, "progress": False},
        "eval": {"val_metrics": ["kit_mae"], "rr_metrics": ["kit_mae"], "fr_metrics": ["kit_gap"]},
    }
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(name), dict):
            cfg[name] = {**cfg[name], **value}
        else:
            cfg[name] = value
    return cfg


def write_config(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def test_kit_dataset_meets_the_dataset_contract() -> None:
    from rsmif_core import collate

    ds = TinyScenes(count=3, size=16, bands=4, reference=True)
    batch = collate([ds[0], ds[1]])
    assert batch.pan.shape == (2, 1, 16, 16) and batch.ms.shape == (2, 4, 4, 4) and batch.gt is not None
    assert batch.meta.ids == ["scene/000", "scene/001"] and batch.meta.max_value == 2047.0
    assert not torch.equal(ds[0]["gt"], ds[1]["gt"])
    no_ref = TinyScenes(count=1, reference=False)
    assert no_ref[0]["gt"] is None and collate([no_ref[0]]).gt is None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
