"""The Batch / FusionOutput / FusionModel contracts and the built-in reference methods."""

from __future__ import annotations

import pytest
import torch

import rsmif_core
from rsmif_core import Batch, BatchError, BatchMeta, FusionOutput
from rsmif_core.testing import TASK_CASES, check_model_contract, make_batch, train_briefly


def test_minimal_batch_is_valid() -> None:
    batch = Batch(pan=torch.rand(2, 1, 16, 16), ms=torch.rand(2, 8, 4, 4), lms=torch.rand(2, 8, 16, 16))
    assert batch.gt is None and batch.meta.ratio == 4 and batch.meta.task == "pansharpening"
    out = FusionOutput(fused=batch.lms, extras={})
    assert out.fused.shape == (2, 8, 16, 16)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lms": torch.rand(2, 8, 8, 8)}, r"Batch\.lms: expected the guide grid 16×16"),
        ({"ms": torch.rand(2, 8, 5, 5)}, r"Batch\.ms: pan 16×16 is not the same integer multiple of ms 2×8×5×5"),
        ({"ms": torch.rand(2, 8, 8, 4)}, r"Batch\.ms: pan 16×16 is not the same integer multiple"),
        ({"ms": torch.rand(2, 4, 4, 4)}, r"Batch\.ms: expected 8 bands"),
        ({"gt": torch.rand(2, 4, 16, 16)}, r"Batch\.gt: expected the shape of lms"),
        ({"pan": torch.rand(16, 16)}, r"Batch\.pan: expected 4 dimensions"),
        ({"pan": torch.rand(3, 1, 16, 16)}, r"Batch\.pan: batch size 3 differs|Batch\.ms: batch size 2 differs"),
    ],
)
def test_batch_says_which_tensor_is_wrong(kwargs: dict, message: str) -> None:
    fields = {"pan": torch.rand(2, 1, 16, 16), "ms": torch.rand(2, 8, 4, 4), "lms": torch.rand(2, 8, 16, 16)}
    fields.update(kwargs)
    with pytest.raises(BatchError, match=message):
        Batch(**fields)


def test_ratio_comes_from_the_shapes_unless_given() -> None:
    pan, lms = torch.rand(1, 1, 16, 16), torch.rand(1, 4, 16, 16)
    assert Batch(pan=pan, ms=torch.rand(1, 4, 8, 8), lms=lms).meta.ratio == 2
    assert Batch(pan=pan, ms=torch.rand(1, 4, 16, 16), lms=lms).meta.ratio == 1
    with pytest.raises(BatchError, match=r"Batch\.ms: expected 4×4 pixels \(pan 16×16 divided by ratio 4\)"):
        Batch(pan=pan, ms=torch.rand(1, 4, 8, 8), lms=lms, meta=BatchMeta(ratio=4))


def test_ratio_one_batch_for_sar_optical() -> None:
    batch = make_batch(TASK_CASES["sar-optical"], size=8)
    assert batch.ms.shape == batch.lms.shape and batch.meta.ratio == 1


def test_collate_and_move() -> None:
    items = [
        {"pan": torch.rand(1, 8, 8), "ms": torch.rand(4, 2, 2), "lms": torch.rand(4, 8, 8), "gt": torch.rand(4, 8, 8),
         "task": "pansharpening", "sensor": "qb", "ratio": 4, "max_value": 2047.0, "id": f"x{i}"}
        for i in range(3)
    ]
    batch = rsmif_core.collate(items)
    assert batch.pan.shape == (3, 1, 8, 8) and batch.meta.sensor == "qb" and batch.meta.ids == ["x0", "x1", "x2"]
    moved = batch.to(torch.float64)
    assert moved.gt is not None and moved.gt.dtype == torch.float64 and moved.meta is batch.meta


@pytest.mark.parametrize("name", ["pnn", "exp"])
@pytest.mark.parametrize("case", TASK_CASES.values(), ids=TASK_CASES.keys())
def test_builtin_methods_honour_the_contract(name: str, case: rsmif_core.testing.TaskCase) -> None:
    check_model_contract(lambda **kw: rsmif_core.create_model(name, **kw), case)


def test_pnn_learns() -> None:
    model = rsmif_core.create_model("pnn", spectral_bands=8, guide_bands=1, ratio=4)
    first, last = train_briefly(model, rsmif_core.create_loss("l1"), make_batch(TASK_CASES["pansharpening-wv3"]))
    assert last < first


def test_model_rejects_bad_band_counts() -> None:
    with pytest.raises(ValueError, match="spectral_bands must be a positive integer"):
        rsmif_core.create_model("pnn", spectral_bands=0, guide_bands=1, ratio=4)


def test_authors_state_dict_prefix_and_unused_keys() -> None:
    class Net(rsmif_core.FusionModel):
        authors_unused_keys = (r"\.dep_conv\.weight$",)

        def __init__(self) -> None:
            super().__init__(1, 1, 1)
            self.conv = torch.nn.Conv2d(1, 1, 1)

    sd = {"module.conv.weight": torch.ones(1, 1, 1, 1), "module.conv.bias": torch.zeros(1),
          "module.att.dep_conv.weight": torch.ones(3)}
    net = Net()
    net.load_authors_state_dict(sd)
    assert torch.equal(net.conv.weight, torch.ones(1, 1, 1, 1))
    assert rsmif_core.types.unwrap_authors_checkpoint({"net": sd, "epoch": 3}) == sd
