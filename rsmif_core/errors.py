"""The one hierarchy of errors RSMIF raises on purpose.

Code below the command line raises these; only ``rsmif_core.cli`` prints them and exits, with the
status each carries: 2 for a usage or input problem (a bad config, file, name or argument: nothing ran),
1 for a run that failed (a disk that filled up, a checkpoint that could not be written), 3 for training
that diverged. The message names the file, key or field and what was expected.
"""

from __future__ import annotations

from typing import ClassVar

USAGE = 2
FAILURE = 1
DIVERGED = 3


class RsmifError(Exception):
    """An error with one message for the user and the process exit status it calls for."""

    exit_code: ClassVar[int] = FAILURE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code  # type: ignore[misc]  # an instance may differ from its class


class UsageError(RsmifError, ValueError):
    """A configuration, argument, name or input file that cannot be used; nothing was run or written."""

    exit_code = USAGE


class RunFailure(RsmifError, RuntimeError):
    """A run that started and could not go on; the message says what is safe on disk."""

    exit_code = FAILURE


class TrainingError(RunFailure):
    """Training that cannot go on (its exit status may be a usage error, a failure or divergence)."""


class CheckpointError(UsageError):
    """A checkpoint or weights file that is missing, unreadable or does not fit the configured model."""


class PluginLoadError(RsmifError):
    """A plugin that failed to load, raised only when plugin loading is strict (for plugin authors)."""
