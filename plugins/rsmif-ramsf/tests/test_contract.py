"""The RSMIF model contract on every task geometry, plus RAMSF's own size rules."""

from __future__ import annotations

import pytest
import torch
from rsmif_ramsf import RAMSF

import rsmif_core
from rsmif_core import Batch, BatchMeta
from rsmif_core.testing import TASK_CASES, check_model_contract, make_batch

SMALL = {"feat_dim": 16, "guide_dim": 12, "mlp_dim": (24, 16), "nir_dim": 9}


@pytest.mark.parametrize("case", TASK_CASES.values(), ids=TASK_CASES.keys())
def test_contract_every_task(case):
    # The authors' widths on WV3 (the golden tests run them on all five configurations); small widths elsewhere.
    check_model_contract(RAMSF, case, size=16, hyper=None if case.sensor == "wv3" else SMALL)


def test_contract_small_widths_and_three_hidden_layers():
    check_model_contract(RAMSF, TASK_CASES["pansharpening-wv3"], size=16, hyper={**SMALL, "mlp_dim": (20, 16, 12)})


@pytest.mark.parametrize("height,width", [(24, 40), (36, 20)])
def test_any_even_non_square_size(height, width):
    case = TASK_CASES["pansharpening-qb"]
    g = torch.Generator().manual_seed(0)
    pan = torch.rand(1, 1, height, width, generator=g)
    ms = torch.rand(1, 4, height // 4, width // 4, generator=g)
    lms = torch.nn.functional.interpolate(ms, size=(height, width), mode="bicubic", align_corners=False)
    batch = Batch(pan, ms, lms, meta=BatchMeta(task=case.task, ratio=4))
    model = RAMSF(4, 1, 4, **SMALL).eval()
    with torch.no_grad():
        fused = model(batch).fused
    assert fused.shape == lms.shape and torch.isfinite(fused).all()


def test_odd_size_is_a_clear_error():
    model = RAMSF(4, 1, 1, **SMALL)
    x = torch.rand(1, 4, 15, 16)
    with pytest.raises(ValueError, match="even height and width"):
        model.fuse(torch.rand(1, 1, 15, 16), x, x)


def test_wrong_band_count_is_a_clear_error():
    model = RAMSF(8, 1, 4, **SMALL)
    with pytest.raises(ValueError, match="lms must be B×8×H×W"):
        model.fuse(torch.rand(1, 1, 16, 16), torch.rand(1, 4, 16, 16), torch.rand(1, 4, 4, 4))


def test_bad_hyper_parameters_are_clear_errors():
    with pytest.raises(ValueError, match="multiple of 4"):
        RAMSF(8, 1, 4, feat_dim=30)
    with pytest.raises(TypeError, match="unexpected keyword argument 'NIR_dim'"):
        RAMSF(8, 1, 4, NIR_dim=33)
    with pytest.raises(rsmif_core.UsageError, match="model 'ramsf' has no argument 'NIR_dim'. Did you mean 'nir_dim'"):
        rsmif_core.create_model("ramsf", spectral_bands=8, guide_bands=1, ratio=4, NIR_dim=33)


@pytest.mark.parametrize(
    ("option", "value"),
    [("query_block_rows", 0), ("query_block_rows", 2.5), ("query_recompute", "some"), ("query_last_layer", "last")],
)
def test_bad_query_options_are_clear_errors(option, value):
    with pytest.raises(ValueError, match=option.removeprefix("query_")):
        RAMSF(8, 1, 4, **{option: value})


def test_query_options_change_no_result():
    """The evaluation options of the coordinate queries only reorder float sums."""
    batch = make_batch(TASK_CASES["pansharpening-wv3"], size=16, batch_size=2, seed=3)
    torch.manual_seed(0)
    reference = RAMSF(8, 1, 4)
    reference.eval()
    with torch.no_grad():
        expected = reference(batch).fused
    for options in ({"query_block_rows": 16, "query_recompute": "all"}, {"query_last_layer": "after_ensemble"},
                    {"query_recompute": "none", "query_last_layer": "per_neighbour"}):
        model = RAMSF(8, 1, 4, **options)
        model.load_state_dict(reference.state_dict())
        model.eval()
        with torch.no_grad():
            torch.testing.assert_close(model(batch).fused, expected, rtol=1e-5, atol=1e-6)
        assert model.hyper.items() >= options.items()


@pytest.mark.parametrize("ratio", [1, 2, 4])
def test_ratio_only_changes_the_spectral_grid(ratio):
    """The spectral branch reads ms on its own grid; ratio 1 (SAR-optical) and 2 (Landsat) fuse like ratio 4."""
    case = TASK_CASES["sar-optical"] if ratio == 1 else TASK_CASES["pansharpening-landsat-ratio2"]
    bands = case.spectral_bands
    meta_case = type(case)(case.task, bands, case.guide_bands, ratio)
    batch = make_batch(meta_case, size=16)
    model = RAMSF(bands, case.guide_bands, ratio, **SMALL).eval()
    with torch.no_grad():
        fused = model(batch).fused
    assert fused.shape == batch.lms.shape and torch.isfinite(fused).all()
    assert not torch.allclose(fused, batch.lms)  # the residual is not empty
