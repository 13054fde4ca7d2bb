"""The RSMIF model contract on every task geometry, plus odd sizes and a ratio the tasks do not list."""

from __future__ import annotations

import pytest
from rsmif_cf2n import CF2N

from rsmif_core.testing import TASK_CASES, TaskCase, check_model_contract, make_batch

# Small widths keep the suite fast on a shared CPU; one case below runs the default (paper-sized) model.
TINY = {"channels": 8, "stages": 1, "mdi_iterations": 2}


@pytest.mark.parametrize("case", TASK_CASES.values(), ids=TASK_CASES.keys())
def test_contract_every_task(case: TaskCase) -> None:
    check_model_contract(CF2N, case, size=16, hyper=TINY)


def test_contract_default_width_wv3() -> None:
    model = check_model_contract(CF2N, TASK_CASES["pansharpening-wv3"], size=16)
    assert len(model.fscfm) == 2 and len(model.mdi) == 2


@pytest.mark.parametrize(
    ("case", "size"),
    [
        (TASK_CASES["sar-optical"], 15),  # ratio 1, odd size: FD2R pads for the DWT and crops back
        (TaskCase("pansharpening", 5, 1, 3), 21),  # ratio 3, odd size
        (TASK_CASES["pansharpening-landsat-ratio2"], 18),  # ratio 2, even size with odd half size
    ],
    ids=["sar-odd15", "ratio3-odd21", "ratio2-18"],
)
def test_sizes_the_wavelet_does_not_divide(case: TaskCase, size: int) -> None:
    check_model_contract(CF2N, case, size=size, hyper=TINY)


def test_wrong_band_counts_are_named() -> None:
    model = CF2N(8, 1, 4, **TINY)
    batch = make_batch(TASK_CASES["pansharpening-qb"], size=16)
    with pytest.raises(ValueError, match="8 spectral bands.*lms with 4 bands"):
        model(batch)


@pytest.mark.parametrize(
    ("hyper", "message"),
    [
        ({"kernel_size": 4}, "kernel_size"),
        ({"mdi_iterations": 0}, "iterations"),
        ({"channels": 0}, "channels"),
        ({"lowpass_size": 2}, "lowpass_size"),
        ({"chanels": 16}, "unexpected keyword argument 'chanels'"),
    ],
)
def test_bad_hyper_parameters(hyper: dict[str, int], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        CF2N(8, 1, 4, **hyper)
