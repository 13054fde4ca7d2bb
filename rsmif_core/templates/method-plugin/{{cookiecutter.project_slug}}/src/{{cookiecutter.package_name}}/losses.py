"""The loss registered as ``{{ cookiecutter.__loss_name }}``: L1 plus a spectral-direction term."""

from __future__ import annotations

import torch.nn.functional as F
from rsmif_core import Batch, FusionOutput, LossOutput
from torch import Tensor, nn


def spectral_direction_error(fused: Tensor, reference: Tensor, eps: float = 1e-8) -> Tensor:
    """Mean of 1 − cos(angle) between the spectra of each pixel.

    Zero exactly where SAM is zero, but smooth there: SAM's arccos has an infinite gradient
    at a perfect match, which makes training unstable once the fit is good.
    """
    cosine = (fused * reference).sum(dim=1) / (fused.norm(dim=1) * reference.norm(dim=1) + eps)
    return (1 - cosine).mean()


class {{ cookiecutter.__class_name }}Loss(nn.Module):
    """``l1 + spectral_weight · spectral`` against the reference image; each term is logged."""

    def __init__(self, spectral_weight: float = 0.1) -> None:
        super().__init__()
        if spectral_weight < 0:
            raise ValueError(f"spectral_weight must be ≥ 0, found {spectral_weight}")
        self.spectral_weight = spectral_weight

    def forward(self, output: FusionOutput, batch: Batch) -> LossOutput:
        if batch.gt is None:
            raise ValueError("{{ cookiecutter.__loss_name }} needs a reference image (batch.gt); this data has none")
        l1 = F.l1_loss(output.fused, batch.gt)
        spectral = spectral_direction_error(output.fused, batch.gt)
        total = l1 + self.spectral_weight * spectral
        return LossOutput(total=total, terms={"l1": l1.detach(), "spectral": spectral.detach()})
