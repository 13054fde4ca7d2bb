"""Optimizers with the authors' knobs and learning-rate schedules (warm-up, step, multistep, cosine)."""

from __future__ import annotations

import math

import pytest
import torch

from rsmif_core.config.schema import OptimSection, ScheduleSection
from rsmif_core.training.optim import ScheduleFactor, build_optimizer, build_scheduler
from rsmif_core.training.sampler import EpochSeededSampler
from rsmif_core.training.state import TrainState


def params() -> list[torch.nn.Parameter]:
    return list(torch.nn.Linear(3, 2).parameters())


@pytest.mark.parametrize(
    ("section", "cls", "expected"),
    [
        (OptimSection(name="adam", lr=1e-3, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.01), torch.optim.Adam,
         {"lr": 1e-3, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.01}),
        (OptimSection(name="adamw", weight_decay=0.05), torch.optim.AdamW, {"weight_decay": 0.05}),
        (OptimSection(name="sgd", lr=0.1, momentum=0.9, nesterov=True), torch.optim.SGD,
         {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        (OptimSection(name="rmsprop", alpha=0.9, momentum=0.5, eps=1e-7), torch.optim.RMSprop,
         {"alpha": 0.9, "momentum": 0.5, "eps": 1e-7}),
    ],
)
def test_optimizers_take_the_configured_knobs(section: OptimSection, cls: type, expected: dict) -> None:
    opt = build_optimizer(section, params())
    assert type(opt) is cls
    for key, value in expected.items():
        assert opt.param_groups[0][key] == value, key


def test_a_model_without_trainable_parameters_is_refused() -> None:
    p = torch.nn.Parameter(torch.ones(1), requires_grad=False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        build_optimizer(OptimSection(), [p])


def factors(cfg: ScheduleSection, steps_per_epoch: int, total: int, n: int) -> list[float]:
    f = ScheduleFactor(cfg, base_lr=1e-3, steps_per_epoch=steps_per_epoch, total_steps=total)
    return [f(s) for s in range(n)]


def test_authors_step_decay_counts_epochs() -> None:
    # the authors: x0.9 every 100 epochs; here 2 optimizer steps per epoch
    f = ScheduleFactor(ScheduleSection(name="step", step_size=100, gamma=0.9), 1e-3, steps_per_epoch=2, total_steps=1000)
    assert f(0) == 1.0 and f(199) == 1.0 and f(200) == pytest.approx(0.9) and f(400) == pytest.approx(0.81)


def test_multistep_counts_steps_when_asked() -> None:
    got = factors(ScheduleSection(name="multistep", interval="step", milestones=[2, 4], gamma=0.5), 10, 10, 6)
    assert got == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25])


def test_warmup_then_cosine_to_min_lr() -> None:
    cfg = ScheduleSection(name="cosine", interval="step", warmup_steps=4, min_lr=1e-4)
    got = factors(cfg, 5, 14, 15)
    assert got[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert got[4] == pytest.approx(1.0)
    assert got[9] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert got[14] == pytest.approx(0.1)


def test_scheduler_state_is_plain_data() -> None:
    opt = build_optimizer(OptimSection(), params())
    sched = build_scheduler(ScheduleSection(name="cosine"), opt, 3, 30)
    buffer = __import__("io").BytesIO()
    torch.save(sched.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)  # what a resume loads
    assert state["lr_lambdas"][0]["name"] == "cosine"


def test_sampler_order_depends_only_on_seed_and_epoch() -> None:
    a, b = EpochSeededSampler(10, seed=5), EpochSeededSampler(10, seed=5)
    torch.manual_seed(0)
    first = list(a)
    torch.manual_seed(1)  # the global RNG plays no part
    assert list(b) == first and sorted(first) == list(range(10))
    a.set_epoch(1)
    assert list(a) != first
    assert list(EpochSeededSampler(4, seed=5, shuffle=False)) == [0, 1, 2, 3]


def test_train_state_round_trip_and_best_rule() -> None:
    s = TrainState(epoch=2, step=7, batch_in_epoch=1)
    assert s.is_better(0.5, "min") and s.is_better(0.5, "max")
    s.best_value = 0.5
    assert s.is_better(0.4, "min") and not s.is_better(0.6, "min") and s.is_better(0.6, "max")
    assert not s.is_better(float("nan"), "min")
    t = TrainState()
    t.load_state_dict(s.state_dict())
    assert t == s
