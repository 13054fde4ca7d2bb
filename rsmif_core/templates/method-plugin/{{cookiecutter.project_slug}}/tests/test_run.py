"""The first sample config trains end to end through ``rsmif run`` (the trainer, the data, this model and loss)."""

from __future__ import annotations

from pathlib import Path

import torch
from click.testing import CliRunner
from rsmif_core.cli import cli
from safetensors.torch import load_file

from {{ cookiecutter.package_name }} import {{ cookiecutter.__class_name }}

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_sample_config_trains(tmp_path: Path) -> None:
    config = CONFIGS / f"{ {{- cookiecutter.__class_name }}.tasks[0]}-sample.yaml"
    result = CliRunner().invoke(cli, [
        "run", str(config), "trainer.max_steps=2", f"trainer.output_dir={tmp_path}", "trainer.progress=false",
        "model.args.channels=8", "model.args.num_blocks=1", "data.test=null", "data.test_fr=null",
    ])
    assert result.exit_code == 0, result.output
    weights = load_file(str(tmp_path / "model.safetensors"))
    assert weights and all(torch.isfinite(t).all() for t in weights.values())
