"""The classical models keep the model contract: shapes, dtype, determinism, no parameters, any device."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from rsmif_classical import MODELS

from rsmif_core.testing import (
    TASK_CASES,
    check_device_move,
    check_eval_determinism,
    check_model_contract,
    check_output,
    check_state_dict_roundtrip,
)

CASES = ["pansharpening-wv3", "pansharpening-qb", "pansharpening-landsat-ratio2", "hyperspectral"]
# FE-HPM's regularisation weights are set for the DN scale: the contract's random [0, 1] batches (max_value 1)
# leave no filter value above its threshold, so it is checked on a real scene below.
ON_RANDOM = [name for name in MODELS if name != "fe-hpm"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("method", ON_RANDOM)
def test_contract_on_random_batches(method: str, case: str) -> None:
    model = check_model_contract(MODELS[method], TASK_CASES[case], size=16 if case != "pansharpening-landsat-ratio2" else 32)
    assert not list(model.parameters())


@pytest.mark.parametrize("method", list(MODELS))
def test_contract_on_a_real_scene(method: str, toolbox_scene: Callable[[str], Any]) -> None:
    batch = toolbox_scene("wv2_4band").batch.to(torch.float32)
    kwargs: dict[str, Any] = dict(spectral_bands=4, guide_bands=1, ratio=4)
    model = MODELS[method](**kwargs)
    with torch.no_grad():
        check_output(model, batch)
    check_eval_determinism(model, batch)
    check_state_dict_roundtrip(MODELS[method], model, batch, **kwargs)
    check_device_move(model, batch)
