"""Parameter counts: the WV3 model sits between MMAPP and RAMSF, as the collection ranks CF2N."""

from __future__ import annotations

from rsmif_cf2n import CF2N

MMAPP_PUBLISHED = 410_000  # MMAPP paper (its released code: 951,591 created, 816,621 used)
RAMSF_WV3 = 666_350  # authors' RAMSF, WV3 (shared/reference/models/ramsf_wv3.json)


def count(model: CF2N) -> int:
    return sum(p.numel() for p in model.parameters())


def test_wv3_default_lies_between_mmapp_and_ramsf() -> None:
    n = count(CF2N(8, 1, 4))
    assert MMAPP_PUBLISHED < n < RAMSF_WV3
    assert n == 550_166  # the README's table; update both together


def test_iterations_cost_no_parameters_and_stages_do() -> None:
    base = count(CF2N(8, 1, 4, channels=8))
    assert count(CF2N(8, 1, 4, channels=8, mdi_iterations=3)) == base
    assert count(CF2N(8, 1, 4, channels=8, stages=3)) > base


def test_state_dict_names_follow_the_figure() -> None:
    keys = CF2N(8, 1, 4, channels=8).state_dict().keys()
    for prefix in ("head_pan.", "head_ms.", "fd2r.awf_ll.", "fd2r.awf_hh.", "fd2r.reconstruction.", "encode.",
                   "fscfm.0.fda.", "fscfm.0.sda.", "fscfm.1.fsm.", "mdi.1.rb_pan.", "mdi.0.awf.", "injection.gain."):
        assert any(k.startswith(prefix) for k in keys), prefix
    assert not any("identity" in k for k in keys)  # the FSM identity kernel is a non-persistent buffer
