"""ESSamp: the lossless "Enhanced SliceSamp" downsampler of PRNet (arXiv 2510.09531, Sec. 3.1)."""
from __future__ import annotations

import torch
from torch import nn

from .blocks import make_bn

__all__ = ["ESSamp"]


class ESSamp(nn.Module):
    """Halve H and W without dropping a pixel: space-to-depth, then a depthwise-separable conv.

    ``(N, c_in, H, W) -> (N, c_out, H/2, W/2)``; H and W must be even.

    1. ``PixelUnshuffle(2)`` moves every 2x2 block into channels: ``(N, 4 c_in, H/2, W/2)``. This is the
       only resolution change, so no information is lost (unlike a strided conv or pooling).
    2. Depthwise ``k x k`` conv with ``depth_multiplier`` outputs per channel -> BN -> GELU.
    3. Pointwise 1x1 conv to ``c_out`` -> BN -> GELU.

    Parameters: ``4 c_in m (k^2 + 2) + 4 c_in m c_out + 2 c_out`` (m = depth multiplier).
    With ``depth_multiplier=1`` this is SliceSamp, its ancestor.
    """

    def __init__(self, c_in: int, c_out: int, k: int = 3, depth_multiplier: int = 2):
        super().__init__()
        c_slices = 4 * c_in
        c_mid = c_slices * depth_multiplier
        self.unshuffle = nn.PixelUnshuffle(2)
        self.dw = nn.Conv2d(c_slices, c_mid, k, 1, k // 2, groups=c_slices, bias=False)
        self.bn1 = make_bn(c_mid)
        self.pw = nn.Conv2d(c_mid, c_out, 1, bias=False)
        self.bn2 = make_bn(c_out)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing() and (x.shape[-2] % 2 or x.shape[-1] % 2):
            raise ValueError(
                f"ESSamp needs even height and width, got {tuple(x.shape[-2:])}: pad the input to a "
                "multiple of the network's coarsest stride (the detector does this for you)."
            )
        x = self.act(self.bn1(self.dw(self.unshuffle(x))))
        return self.act(self.bn2(self.pw(x)))
