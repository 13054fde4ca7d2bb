"""Training on Hugging Face Accelerate: the loop, checkpoints, resume, tensorboard and progress.

It receives its parts (:class:`TrainParts`) from the run layer and never imports evaluation."""

from rsmif_core.training.state import TrainState
from rsmif_core.training.trainer import Trainer, TrainParts, TrainResult, Validation

__all__ = ["TrainParts", "TrainResult", "TrainState", "Trainer", "Validation"]
