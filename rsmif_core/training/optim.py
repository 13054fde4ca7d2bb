"""Optimizers and learning-rate schedules built from the ``optim`` and ``schedule`` config sections."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch.optim.lr_scheduler import LambdaLR

from rsmif_core.config.schema import OptimSection, ScheduleSection


def build_optimizer(cfg: OptimSection, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """Adam, AdamW, SGD or RMSprop with the knobs the authors' solvers expose."""
    trainable = [p for p in params if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameters; nothing to optimise (use `rsmif test` for fixed methods)")
    if cfg.name == "adam":
        return torch.optim.Adam(trainable, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(trainable, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(
            trainable, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=cfg.nesterov
        )
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(
            trainable, lr=cfg.lr, alpha=cfg.alpha, eps=cfg.eps, weight_decay=cfg.weight_decay, momentum=cfg.momentum
        )
    raise ValueError(f"optim.name: unknown optimizer {cfg.name!r}; expected adam, adamw, sgd or rmsprop")


class ScheduleFactor:
    """The learning-rate multiplier after ``step`` optimizer steps.

    One callable covers warm-up and every decay, so a single ``LambdaLR`` is stepped once per
    optimizer step whether the decay counts epochs (the authors: x0.9 every 100 epochs) or steps.
    Its attributes are plain numbers, so the scheduler's state_dict stays loadable with
    ``weights_only=True``.
    """

    def __init__(
        self,
        cfg: ScheduleSection,
        base_lr: float,
        steps_per_epoch: int,
        total_steps: int,
    ) -> None:
        self.name = cfg.name
        self.per_epoch = cfg.interval == "epoch"
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.step_size = cfg.step_size
        self.milestones = sorted(cfg.milestones)
        self.gamma = cfg.gamma
        self.warmup_steps = cfg.warmup_steps
        self.min_ratio = cfg.min_lr / base_lr
        total = max(1, total_steps - cfg.warmup_steps)
        self.total = math.ceil(total / self.steps_per_epoch) if self.per_epoch else total

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        t = step - self.warmup_steps
        if self.per_epoch:
            t //= self.steps_per_epoch
        if self.name == "step":
            return float(self.gamma ** (t // self.step_size))
        if self.name == "multistep":
            return float(self.gamma ** sum(1 for m in self.milestones if t >= m))
        if self.name == "cosine":
            progress = min(1.0, t / self.total)
            return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0


def build_scheduler(
    cfg: ScheduleSection, optimizer: torch.optim.Optimizer, steps_per_epoch: int, total_steps: int
) -> LambdaLR:
    base_lr = float(optimizer.param_groups[0]["lr"])
    return LambdaLR(optimizer, ScheduleFactor(cfg, base_lr, steps_per_epoch, total_steps))
