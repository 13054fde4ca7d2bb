"""The run folder (``trainer.output_dir``) and what lives in it, in one place.

::

    <run>/config.yaml          the resolved configuration (model arguments with their defaults)
    <run>/metrics.json         training summary and each test phase's mean ± std (one writer: update_metrics)
    <run>/model.safetensors    the final weights, with what rebuilds the model in their metadata
    <run>/checkpoints/         step_<n>/ and best/ (see rsmif_core.training.checkpoints)
    <run>/tensorboard/         curves, images, feature maps
    <run>/test_rr/, test_fr/   per-image rows and saved images of `rsmif test`
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rsmif_core.config.load import to_yaml
from rsmif_core.config.schema import RunConfig
from rsmif_core.errors import CheckpointError, RunFailure, UsageError
from rsmif_core.io import describe_os_error, write_json, write_text
from rsmif_core.training.checkpoints import BEST, CHECKPOINTS_DIR, META_FILE, latest_checkpoint


@dataclass(frozen=True)
class RunFolder:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def weights(self) -> Path:
        return self.root / "model.safetensors"

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS_DIR

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    def test_dir(self, kind: str) -> Path:
        return self.root / f"test_{kind}"

    def outputs(self) -> list[Path]:
        """What an earlier run left in this folder (only the names a run writes)."""
        if not self.root.is_dir():
            return []
        named = [self.config, self.metrics, self.weights, self.checkpoints, self.tensorboard, *self.root.glob("test_*")]
        return [p for p in named if p.is_file() or (p.is_dir() and any(p.iterdir()))]

    def check_can_train(self, resume: bool, overwrite: bool) -> None:
        """Refuse, before any work, what would replace an earlier run or cannot be a run folder."""
        where = f"trainer.output_dir: {self.root}"
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"{where} is a file, not a folder; set trainer.output_dir to a folder")
        if resume and overwrite:
            raise UsageError("--resume continues the run in trainer.output_dir and --overwrite replaces it; give one")
        if resume and not self.root.is_dir():
            raise UsageError(f"--resume: {self.root} does not exist; there is no run to continue (start without "
                             "--resume, or set trainer.output_dir to the run's folder)")
        if resume and self.latest_checkpoint() is None:
            raise UsageError(f"--resume: no checkpoint found in {self.checkpoints}; start without --resume")
        found = self.outputs()
        if found and not resume and not overwrite:
            listing = ", ".join(p.name for p in found)
            raise UsageError(f"{self.root} already holds a run ({listing}); pass --resume to continue it, "
                             "--overwrite to replace it, or set trainer.output_dir to a new folder (nothing was changed)")

    def create(self, overwrite: bool) -> list[Path]:
        """Make the folder (main process only); with ``overwrite``, first remove an earlier run's outputs.
        Returns what was removed."""
        removed = self.outputs() if overwrite else []
        try:
            for path in removed:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".rsmif-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            if not removed:
                raise UsageError(f"trainer.output_dir: cannot create a run folder at {self.root}: "
                                 f"{describe_os_error(exc)}") from None
            raise RunFailure(f"could not clear {self.root} for --overwrite: {describe_os_error(exc)}") from None
        return removed

    def latest_checkpoint(self) -> Path | None:
        return latest_checkpoint(self.root)

    def saved_config(self) -> dict[str, Any] | None:
        """The config of an earlier run in this folder, as a plain tree (None when there is none)."""
        if not self.config.is_file():
            return None
        return yaml.safe_load(self.config.read_text(encoding="utf-8")) or {}

    def write_config(self, cfg: RunConfig) -> None:
        write_text(self.config, to_yaml(cfg))

    def update_metrics(self, payload: dict[str, Any]) -> None:
        """Merge ``payload`` into ``metrics.json`` (the only writer of that file)."""
        previous = json.loads(self.metrics.read_text(encoding="utf-8")) if self.metrics.is_file() else {}
        previous.update(payload)
        write_json(self.metrics, previous)

    def find_weights(self) -> tuple[Path, dict[str, Any] | None]:
        """The weights to test: the final model, else ``best/``, else the latest step checkpoint; with the
        checkpoint's description when it came from a checkpoint folder."""
        if self.weights.is_file():
            return self.weights, None
        for folder in (self.checkpoints / BEST, self.latest_checkpoint()):
            if folder is not None and (folder / META_FILE).is_file():
                return folder / "model.safetensors", json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        raise CheckpointError(
            f"{self.root}: no weights found (expected model.safetensors, {CHECKPOINTS_DIR}/{BEST}/ or "
            f"{CHECKPOINTS_DIR}/step_*/)"
        )
