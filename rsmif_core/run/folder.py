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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rsmif_core.config.load import to_yaml
from rsmif_core.config.schema import RunConfig
from rsmif_core.errors import CheckpointError
from rsmif_core.io import write_json, write_text
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
