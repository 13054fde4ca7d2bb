"""MMAPP's multiscale loss (part of the method: the authors' solver trains every level)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from rsmif_core import Batch, FusionOutput, LossOutput

PYRAMID_KEYS = ("out1", "out2", "ms_u4")


def _reference_at(gt: Tensor, like: Tensor) -> Tensor:
    """gt resized to ``like``'s grid by bicubic interpolation with ``align_corners=True`` (the authors'
    ``F.interpolate(gt, size=[H // k] * 2, ...)``; here both sides from the output's shape, so
    non-square patches work). Same grid (ratio 1 and 2 levels): gt itself."""
    if like.shape[-2:] == gt.shape[-2:]:
        return gt
    return F.interpolate(gt, size=tuple(like.shape[-2:]), mode="bicubic", align_corners=True)


class MultiscaleL1(nn.Module):
    """``level1·L1(out1, gt↓) + level2·L1(out2, gt↓) + final·L1(fused, gt) + ms_branch·L1(ms_u4, lms)``.

    Defaults 0.2 / 0.3 / 0.5 / 0.01 are the authors' ``lambda1..4``. Terms are logged unweighted.
    """

    def __init__(self, level1: float = 0.2, level2: float = 0.3, final: float = 0.5, ms_branch: float = 0.01) -> None:
        super().__init__()
        self.weights = {"level1": float(level1), "level2": float(level2), "final": float(final), "ms_branch": float(ms_branch)}

    def forward(self, output: FusionOutput, batch: Batch) -> LossOutput:
        if batch.gt is None:
            raise ValueError("mmapp_multiscale needs a reference image (batch.gt); the training data has none")
        missing = [k for k in PYRAMID_KEYS if k not in output.extras]
        if missing:
            raise ValueError(
                f"mmapp_multiscale needs the model's extras {', '.join(PYRAMID_KEYS)} (MMAPP's pyramid); missing {', '.join(missing)}"
            )
        gt = batch.gt
        out1, out2, ms_u4 = (output.extras[k] for k in PYRAMID_KEYS)
        terms = {
            "level1": F.l1_loss(out1, _reference_at(gt, out1)),
            "level2": F.l1_loss(out2, _reference_at(gt, out2)),
            "final": F.l1_loss(output.fused, gt),
            "ms_branch": F.l1_loss(ms_u4, batch.lms),
        }
        total = sum((self.weights[name] * value for name, value in terms.items()), start=gt.new_zeros(()))
        return LossOutput(total=total, terms={name: value.detach() for name, value in terms.items()})


def mmapp_multiscale(level1: float = 0.2, level2: float = 0.3, final: float = 0.5, ms_branch: float = 0.01) -> MultiscaleL1:
    return MultiscaleL1(level1=level1, level2=level2, final=final, ms_branch=ms_branch)
