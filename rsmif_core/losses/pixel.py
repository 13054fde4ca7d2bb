"""Built-in losses. A loss maps (FusionOutput, Batch) to a LossOutput whose terms are logged."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from rsmif_core.types import Batch, FusionOutput, LossOutput


def _reference(batch: Batch) -> Tensor:
    if batch.gt is None:
        raise ValueError("this loss needs a reference image (batch.gt); the training data has none")
    return batch.gt


class PixelLoss(nn.Module):
    """Mean pixel loss between the fused image and the reference."""

    def __init__(self, name: str, fn: Callable[[Tensor, Tensor], Tensor]) -> None:
        super().__init__()
        self.name = name
        self.fn = fn

    def forward(self, output: FusionOutput, batch: Batch) -> LossOutput:
        value = self.fn(output.fused, _reference(batch))
        return LossOutput(total=value, terms={self.name: value.detach()})


def l1() -> PixelLoss:
    """Mean absolute error (the loss of RAMSF, CF2N and most pansharpening networks)."""
    return PixelLoss("l1", F.l1_loss)


def mse() -> PixelLoss:
    """Mean squared error."""
    return PixelLoss("mse", F.mse_loss)
