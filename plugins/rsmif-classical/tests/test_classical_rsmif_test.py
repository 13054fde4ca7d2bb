"""The issue's acceptance check, through the command line: ``rsmif test --type rr`` of every classical model,
with no checkpoint, on each reference scene written as a PanCollection test file, gives Q2n, SAM and ERGAS
equal to the toolbox's indexes_evaluation (GNU Octave) within 1e-3 relative."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from rsmif_classical import MODELS

from rsmif_core.cli import cli

SCENES = ("wv2_8band", "ikonos", "geoeye1", "landsat7")  # WorldView-2 8 bands, IKONOS, GeoEye-1, Landsat-7
COLUMNS = {"Q2n": "q2n", "SAM": "sam", "ERGAS": "ergas"}


def write_test_file(scene: Any, path: Path) -> None:
    """The scene as a one-item PanCollection test file on the DN scale, recording sensor, ratio and scale."""
    batch, scale = scene.batch, scene.max_value
    with h5py.File(path, "w") as f:
        f["gt"] = scene.gt.numpy()
        for key in ("ms", "lms", "pan"):
            f[key] = getattr(batch, key).numpy() * scale
        f.attrs.update(sensor=batch.meta.sensor, ratio=batch.meta.ratio, max_value=scale)
        if batch.meta.mtf_gains is not None:
            f.attrs["mtf_gains"] = np.asarray(batch.meta.mtf_gains)


@pytest.mark.parametrize("scene_name", SCENES)
def test_rsmif_test_of_every_classical_model_equals_the_toolbox(scene_name: str, toolbox_scene: Any,
                                                                 tmp_path: Path) -> None:
    scene = toolbox_scene(scene_name)
    data = tmp_path / f"test_{scene_name}.h5"
    write_test_file(scene, data)
    toolbox = scene.indices
    config = tmp_path / "test.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"name": "exp"},
        "data": {"test": {"name": "pancollection", "args": {"path": str(data)}, "batch_size": 1}},
        "eval": {"rr_metrics": ["q2n", "sam", "ergas"], "border": 21, "block_size": 32},
        "runtime": {"threads": 1},
    }))
    for method in MODELS:
        out = tmp_path / method
        result = CliRunner().invoke(cli, ["test", str(config), f"model.name={method}", "--type", "rr",
                                          "--out", str(out)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        with (out / "per_image.csv").open(newline="") as f:
            (row,) = list(csv.DictReader(f))
        for name, column in COLUMNS.items():
            ours, theirs = float(row[column]), toolbox[method][name]
            assert ours == pytest.approx(theirs, rel=1e-3), f"{method} {name}: rsmif test {ours}, toolbox {theirs}"
