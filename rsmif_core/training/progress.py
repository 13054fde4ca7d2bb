"""Progress on the main process: a rich bar in a terminal, plain log lines otherwise."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class TrainProgress:
    """Shows loss, it/s and ETA. Quiet (log lines every ``log_every`` steps) when stdout is not a terminal."""

    def __init__(self, total: int, enabled: bool, is_main: bool, log_every: int, console: Console | None = None) -> None:
        self.total = total
        self.is_main = is_main
        self.log_every = log_every
        self.console = console or Console()
        self.use_bar = enabled and is_main and self.console.is_terminal
        self._bar: Progress | None = None
        self._task: Any = None
        self._t0 = time.perf_counter()
        self._start_step = 0

    def start(self, step: int) -> None:
        self._start_step = step
        self._t0 = time.perf_counter()
        if self.use_bar:
            self._bar = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[rate]} it/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("train", total=self.total, completed=step, loss="-", rate="-")

    def rate(self, step: int) -> float:
        elapsed = time.perf_counter() - self._t0
        return (step - self._start_step) / elapsed if elapsed > 0 else 0.0

    def update(self, step: int, loss: float | None) -> None:
        if not self.is_main:
            return
        loss_text = "-" if loss is None else f"{loss:.4g}"
        if self._bar is not None:
            self._bar.update(self._task, completed=step, loss=loss_text, rate=f"{self.rate(step):.2f}")
        elif step % self.log_every == 0 or step == self.total:
            remaining = (self.total - step) / self.rate(step) if self.rate(step) > 0 else float("nan")
            self.console.print(
                f"step {step}/{self.total}  loss {loss_text}  {self.rate(step):.2f} it/s  ETA {remaining:.0f}s",
                highlight=False,
            )

    def message(self, text: str) -> None:
        if self.is_main:
            self.console.print(text, highlight=False)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
