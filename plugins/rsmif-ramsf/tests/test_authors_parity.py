"""Faithfulness to the authors' code: golden outputs, parameter names/shapes, checkpoint conversion."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from rsmif_ramsf import RAMSF
from safetensors.torch import load_file

from rsmif_core.cli import cli

CONFIGS = ["wv3", "qb", "hyper", "sar", "mhif"]


def build(reference_models, config: str) -> tuple[RAMSF, dict]:
    facts = json.loads((reference_models / f"ramsf_{config}.json").read_text())
    return RAMSF(facts["ms_bands"], facts["pan_bands"], facts["ratio"]), facts


@pytest.mark.parametrize("config", CONFIGS)
def test_golden_outputs(reference_models, config):
    golden = load_file(str(reference_models / f"ramsf_{config}_golden.safetensors"))
    model, _ = build(reference_models, config)
    model.load_authors_state_dict({k.removeprefix("state."): v for k, v in golden.items() if k.startswith("state.")})
    model.eval()
    with torch.no_grad():
        out = model.fuse(golden["in.pan"], golden["in.lms"], golden["in.ms"])
    ref = golden["out.0"]
    assert out.shape == ref.shape
    assert (out - ref).abs().max() <= 1e-5 * ref.abs().max()


@pytest.mark.parametrize("config", CONFIGS)
def test_state_dict_names_shapes_and_counts(reference_models, config):
    model, facts = build(reference_models, config)
    ours = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert ours == [[k, list(s)] for k, s in facts["state_dict"]]
    assert sum(p.numel() for p in model.parameters()) == facts["total_params"]


def test_convert_weights_from_a_dataparallel_training_checkpoint(reference_models, tmp_path):
    golden = load_file(str(reference_models / "ramsf_wv3_golden.safetensors"))
    state = {"module." + k.removeprefix("state."): v for k, v in golden.items() if k.startswith("state.")}
    source = tmp_path / "600.pth"
    torch.save({"epoch": 600, "net": state, "optimizer": {}}, source)
    target = tmp_path / "ramsf_wv3.safetensors"
    result = CliRunner().invoke(cli, ["convert-weights", "ramsf", str(source), str(target)])
    assert result.exit_code == 0, result.output
    converted = load_file(str(target))
    model = RAMSF(8, 1, 4)
    model.load_state_dict(converted, strict=True)
    model.eval()
    with torch.no_grad():
        out = model.fuse(golden["in.pan"], golden["in.lms"], golden["in.ms"])
    assert (out - golden["out.0"]).abs().max() <= 1e-5 * golden["out.0"].abs().max()
