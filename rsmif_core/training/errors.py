"""Errors a run stops on: each carries one clear message and the process exit status."""

from __future__ import annotations


class TrainingError(RuntimeError):
    """A run that cannot go on; ``message`` says why and what is safe on disk."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class CheckpointError(TrainingError):
    """A checkpoint that is missing, unreadable or does not fit the configured model."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)
