"""Progress: a rich bar on a terminal, plain log lines otherwise, nothing on other processes."""

from __future__ import annotations

import io

from rich.console import Console

from rsmif_core.training.progress import TrainProgress


def test_log_lines_when_not_a_terminal() -> None:
    buffer = io.StringIO()
    progress = TrainProgress(total=6, enabled=True, is_main=True, log_every=2, console=Console(file=buffer, width=120))
    assert not progress.use_bar
    progress.start(0)
    for step in range(1, 7):
        progress.update(step, 0.5 / step)
    progress.stop()
    lines = [line for line in buffer.getvalue().splitlines() if line.startswith("step")]
    assert [line.split()[1] for line in lines] == ["2/6", "4/6", "6/6"]
    assert "loss 0.08333" in lines[-1] and "it/s" in lines[-1] and "ETA" in lines[-1]


def test_bar_on_a_terminal_and_silence_elsewhere() -> None:
    buffer = io.StringIO()
    terminal = Console(file=buffer, force_terminal=True, width=120)
    progress = TrainProgress(total=4, enabled=True, is_main=True, log_every=1, console=terminal)
    assert progress.use_bar
    progress.start(1)  # a resumed run starts part-way
    progress.update(4, 0.25)
    progress.stop()
    assert "4/4" in buffer.getvalue() and "0.25" in buffer.getvalue()

    quiet = io.StringIO()
    other = TrainProgress(total=4, enabled=True, is_main=False, log_every=1, console=Console(file=quiet))
    other.start(0)
    other.update(4, 0.1)
    other.message("hello")
    other.stop()
    assert quiet.getvalue() == ""
