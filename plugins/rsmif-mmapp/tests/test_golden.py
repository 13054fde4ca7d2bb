"""Parity with the authors' code: their weights load strictly and reproduce their outputs."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from rsmif_mmapp import MMAPP
from safetensors.torch import load_file


def _authors_state(golden: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix("state."): v for k, v in golden.items() if k.startswith("state.")}


def test_state_dict_names_and_shapes_match_the_authors(reference_dir: Path) -> None:
    info = json.loads((reference_dir / "mmapp_wv3.json").read_text())
    unused = set(info["params_unused_in_forward"])
    expected = [(k, list(s)) for k, s in info["state_dict"] if k not in unused]
    ours = [(k, list(v.shape)) for k, v in MMAPP(8, 1, 4).state_dict().items()]
    assert ours == expected
    assert all(k.startswith("F3.") for k in unused)  # the only keys we drop: a block never called
    n_params = sum(p.numel() for p in MMAPP(8, 1, 4).parameters())
    assert n_params == info["total_params"] - info["num_params_unused_in_forward"] == 816_621


def test_golden_outputs(reference_dir: Path) -> None:
    golden = load_file(str(reference_dir / "mmapp_wv3_golden.safetensors"))
    model = MMAPP(8, 1, 4)
    model.load_authors_state_dict(_authors_state(golden), strict=True)
    model.eval()
    with torch.no_grad():
        outs = model.pyramid(golden["in.ms"], golden["in.pan"])
    for i, out in enumerate(outs):
        ref = golden[f"out.{i}"]
        assert out.shape == ref.shape
        err = (out - ref).abs().max().item()
        assert err <= 1e-5 * ref.abs().max().item(), f"out.{i}: max |err| {err:.3g} vs max |ref| {ref.abs().max().item():.3g}"


def test_authors_dataparallel_checkpoint_loads(reference_dir: Path) -> None:
    golden = load_file(str(reference_dir / "mmapp_wv3_golden.safetensors"))
    wrapped = {f"module.{k}": v for k, v in _authors_state(golden).items()}
    model = MMAPP(8, 1, 4)
    model.load_authors_state_dict(wrapped, strict=True)
    assert torch.equal(model.head_conv.weight, golden["state.head_conv.weight"])


def test_convert_weights_command(reference_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rsmif_core.cli import cli
    from rsmif_core.models.weights import load_weights

    golden = load_file(str(reference_dir / "mmapp_wv3_golden.safetensors"))
    src = tmp_path / "authors.pth"
    torch.save({"epoch": 1, "net": {f"module.{k}": v for k, v in _authors_state(golden).items()}}, src)
    dst = tmp_path / "mmapp.safetensors"
    result = CliRunner().invoke(cli, ["convert-weights", "mmapp", str(src), str(dst)])
    assert result.exit_code == 0, result.output
    state, meta = load_weights(dst)
    assert meta["model"] == "mmapp" and len(state) == 1134
    assert torch.equal(state["tail_conv.2.weight"], golden["state.tail_conv.2.weight"])
