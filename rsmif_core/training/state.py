"""The trainer's own progress, saved with every checkpoint through ``register_for_checkpointing``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TrainState:
    """Where a run is: epochs finished, optimizer steps taken, batches seen in the current epoch, the best score.

    Stored as a plain dict of numbers and strings so the checkpoint file loads with ``weights_only=True``.
    The resume position comes from here, never from folder names.
    """

    epoch: int = 0
    step: int = 0
    batch_in_epoch: int = 0
    best_value: float | None = None
    best_step: int | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    first_loss: float | None = None  # the scale divergence is judged against

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.step = int(state["step"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        best = state.get("best_value")
        self.best_value = None if best is None else float(best)
        best_step = state.get("best_step")
        self.best_step = None if best_step is None else int(best_step)
        self.history = [dict(h) for h in state.get("history", [])]
        first = state.get("first_loss")
        self.first_loss = None if first is None else float(first)

    def is_better(self, value: float, mode: str) -> bool:
        if not math.isfinite(value):
            return False
        if self.best_value is None:
            return True
        return value < self.best_value if mode == "min" else value > self.best_value
