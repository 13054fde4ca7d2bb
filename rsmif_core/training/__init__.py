"""Training on Hugging Face Accelerate: the loop, checkpoints, resume, tensorboard and progress."""

from rsmif_core.training.errors import CheckpointError, TrainingError
from rsmif_core.training.state import TrainState
from rsmif_core.training.trainer import Trainer, TrainResult

__all__ = ["CheckpointError", "TrainResult", "TrainState", "Trainer", "TrainingError"]
