"""Faithfulness to the authors' RSANet (models/MSIP/RSAM.py): names/shapes, golden outputs, weight conversion."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from rsmif_rsanet import RSANet
from safetensors.torch import load_file

from rsmif_core import Batch, BatchMeta
from rsmif_core.cli import cli
from rsmif_core.models.weights import load_weights


def _authors_state(models_reference):
    golden = load_file(str(models_reference / "rsanet_wv3_golden.safetensors"))
    return golden, {k.removeprefix("state."): v for k, v in golden.items() if k.startswith("state.")}


def test_state_dict_names_and_shapes_equal_the_authors(models_reference):
    facts = json.loads((models_reference / "rsanet_wv3.json").read_text())
    unused = set(facts["params_unused_in_forward"])
    theirs = [(k, tuple(s)) for k, s in facts["state_dict"] if k not in unused]
    ours = [(k, tuple(v.shape)) for k, v in RSANet(8, 1, 4).state_dict().items()]
    assert ours == theirs
    assert sum(p.numel() for p in RSANet(8, 1, 4).parameters()) == facts["total_params"] - facts["num_params_unused_in_forward"]
    # every key the authors create but never use is recognised as such, nothing else is dropped
    model = RSANet(8, 1, 4)
    dropped = {k for k, _ in facts["state_dict"]} - set(model.convert_authors_state_dict(
        {k: torch.zeros(s) for k, s in facts["state_dict"]}))
    assert dropped == unused


@pytest.mark.parametrize("impl", ["fused", "views"])
def test_golden_outputs(models_reference, impl):
    golden, state = _authors_state(models_reference)
    model = RSANet(8, 1, 4, attention_impl=impl)
    model.load_authors_state_dict(state)  # strict
    pan, lms = golden["in.pan"], golden["in.lms"]
    batch = Batch(pan=pan, ms=torch.nn.functional.avg_pool2d(lms, 4), lms=lms, meta=BatchMeta(ratio=4))
    model.eval()
    with torch.no_grad():
        out = model(batch).fused
    ref = golden["out.0"]
    assert out.shape == ref.shape
    assert (out - ref).abs().max() <= 1e-5 * ref.abs().max()


def test_convert_weights_from_a_dataparallel_checkpoint(models_reference, tmp_path):
    _, state = _authors_state(models_reference)
    source = tmp_path / "authors.pth"
    torch.save({"epoch": 1, "net": {f"module.{k}": v for k, v in state.items()}}, source)
    target = tmp_path / "rsanet.safetensors"
    result = CliRunner().invoke(cli, ["convert-weights", "rsanet", str(source), str(target)])
    assert result.exit_code == 0, result.output
    converted, _ = load_weights(target)
    model = RSANet(8, 1, 4)
    model.load_state_dict(converted, strict=True)
    assert torch.equal(model.tail_conv.weight, state["tail_conv.weight"])
    assert not any("dep_conv" in k for k in converted)
