"""The two dynamic convolutions of FSCFM (the figure's ⊗), computed without unfolded copies.

* :func:`pixelwise_conv`: a k×k kernel per pixel, shared by all channels (FDA's κ_ς ∈ R^{k×k×1} at every
  position), optionally scaled per channel (SDA's κ_s ∈ R^{1×1×C}); the product κ_ς ⊙ κ_s is the figure's
  κ_{ς,s} ∈ R^{k×k×C}. Because κ_s is constant over space it factors out of the sum, so κ_{ς,s} is never
  materialised and neither is an unfolded k²×C copy of the features (the authors' AEIM/ACmix modules
  build one with ``nn.Unfold``): k² shifted multiply-adds on views of one padded tensor.
* :func:`samplewise_depthwise_conv`: one k×k×C depthwise kernel per sample (κ_1 = κ'_ς ⊙ κ_s), run as a
  single grouped convolution with the batch folded into the groups.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def pixelwise_conv(x: Tensor, kernel: Tensor, channel_scale: Tensor | None = None) -> Tensor:
    """``out[b,c,y,x] = s[b,c] · Σ_ij kernel[b,ij,y,x] · x[b,c,y+i-r,x+j-r]`` with zero padding.

    ``x`` B×C×H×W, ``kernel`` B×k²×H×W (k odd, taps in row-major order), ``channel_scale`` B×C×1×1 or None.
    """
    b, c, h, w = x.shape
    taps = kernel.shape[1]
    k = int(round(taps**0.5))
    if k * k != taps or k % 2 == 0:
        raise ValueError(f"pixelwise_conv: kernel needs k² channels with k odd, found {taps}")
    if kernel.shape[0] != b or kernel.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"pixelwise_conv: kernel {tuple(kernel.shape)} does not fit features {tuple(x.shape)}")
    r = k // 2
    padded = F.pad(x, (r, r, r, r))
    out = None
    for i in range(k):
        for j in range(k):
            t = i * k + j
            term = kernel[:, t : t + 1] * padded[:, :, i : i + h, j : j + w]
            out = term if out is None else out + term
    assert out is not None
    return out if channel_scale is None else out * channel_scale


def samplewise_depthwise_conv(x: Tensor, kernel: Tensor) -> Tensor:
    """Convolve each sample's channel c with its own k×k kernel: ``x`` B×C×H×W, ``kernel`` B×C×k×k (k odd)."""
    b, c, h, w = x.shape
    if kernel.shape[:2] != (b, c) or kernel.shape[-1] != kernel.shape[-2] or kernel.shape[-1] % 2 == 0:
        raise ValueError(f"samplewise_depthwise_conv: kernel {tuple(kernel.shape)} does not fit features {tuple(x.shape)}")
    k = kernel.shape[-1]
    out = F.conv2d(x.reshape(1, b * c, h, w), kernel.reshape(b * c, 1, k, k), padding=k // 2, groups=b * c)
    return out.view(b, c, h, w)
