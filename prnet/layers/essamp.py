"""ESSamp: the lossless "Enhanced SliceSamp" downsampler of PRNet (arXiv 2510.09531, Sec. 3.1)."""
from __future__ import annotations

import torch
from torch import nn

from .blocks import fold_bn, make_bn

__all__ = ["ESSamp", "ESSampExportForm"]


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


class ESSampExportForm(nn.Module):
    """An eval-mode :class:`ESSamp` rewritten into operations graph runtimes run fast; same function.

    OpenVINO's CPU plugin runs a grouped conv with several outputs per group (the depthwise conv
    with ``depth_multiplier`` 2) in a generic kernel, and PixelUnshuffle's channel order (channel,
    row, column) as a reshape-transpose-reshape with layout reorders around it: for PRNet-s on a
    1080p frame that conv alone took 31 ms of a 246 ms run (docs/benchmarks/README.md).
    Here, with BatchNorm folded (:func:`~prnet.layers.blocks.fold_bn`):

    * space-to-depth is four strided slices concatenated (SliceSamp's form), in (row, column,
      channel) order;
    * the depthwise conv is ``depth_multiplier`` true depthwise convs (one per output of a group);
    * the pointwise conv is split by those groups of input channels into convs that are summed.

    Every weight is the original one, moved to where its input channel now is, so outputs are
    equal up to float rounding (summation order). Exported graphs use it (``prnet.export``); eager
    PyTorch did not get faster with it and keeps :class:`ESSamp`.
    """

    def __init__(self, essamp: ESSamp):
        super().__init__()
        dw, pw = fold_bn(essamp.dw, essamp.bn1), fold_bn(essamp.pw, essamp.bn2)
        c_slices = dw.in_channels
        multiplier = dw.out_channels // c_slices
        c_in = c_slices // 4
        like = dict(device=dw.weight.device, dtype=dw.weight.dtype)
        # the slices' channel s = (2 i + j) c_in + c is PixelUnshuffle's channel 4 c + 2 i + j
        order = torch.tensor([4 * c + k for k in range(4) for c in range(c_in)], device=like["device"])
        self.depthwise = nn.ModuleList()
        self.pointwise = nn.ModuleList()
        for m in range(multiplier):  # ESSamp's depthwise output 4c+k has outputs (4c+k) m .. +m-1
            source = order * multiplier + m
            depthwise = nn.Conv2d(
                c_slices, c_slices, dw.kernel_size, 1, dw.padding, groups=c_slices, **like
            )
            depthwise.weight.data.copy_(dw.weight.data[source])
            depthwise.bias.data.copy_(dw.bias.data[source])
            pointwise = nn.Conv2d(c_slices, pw.out_channels, 1, bias=m == 0, **like)
            pointwise.weight.data.copy_(pw.weight.data[:, source])
            if m == 0:
                pointwise.bias.data.copy_(pw.bias.data)
            self.depthwise.append(depthwise)
            self.pointwise.append(pointwise)
        self.act = essamp.act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x[..., i::2, j::2] for i in (0, 1) for j in (0, 1)], 1)
        out = None
        for depthwise, pointwise in zip(self.depthwise, self.pointwise):
            y = pointwise(self.act(depthwise(x)))
            out = y if out is None else out + y
        return self.act(out)
