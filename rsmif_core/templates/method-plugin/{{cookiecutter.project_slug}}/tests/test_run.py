"""Each task's sample config trains end to end through ``rsmif run {{ cookiecutter.method_name }}:TASK`` (the trainer,
the data, this model and loss), two steps in a fresh process where every warning is an error."""

from __future__ import annotations

from pathlib import Path

import torch
from rsmif_core.testing import check_configs_train
from safetensors.torch import load_file

from {{ cookiecutter.package_name }} import {{ cookiecutter.__class_name }}


def test_sample_configs_train(tmp_path: Path) -> None:
    names = [f"{{ cookiecutter.method_name }}:{task}" for task in {{ cookiecutter.__class_name }}.tasks]
    check_configs_train(names, tmp_path, "model.args.channels=8", "model.args.num_blocks=1", "data.test=null",
                        "data.test_fr=null", "runtime.threads=1")
    for name in names:
        weights = load_file(str(tmp_path / name.replace(":", "-") / "model.safetensors"))
        assert weights and all(torch.isfinite(t).all() for t in weights.values())
