"""The stride-2 step used wherever a network halves its resolution (backbone stem, necks)."""

from torch import nn

from .blocks import Conv
from .essamp import ESSamp

__all__ = ["DOWNSAMPLES", "make_downsample"]

DOWNSAMPLES = ("conv", "essamp")


def make_downsample(kind: str, c_in: int, c_out: int, depth_multiplier: int = 2) -> nn.Module:
    """``(N, c_in, H, W) -> (N, c_out, H/2, W/2)``: ``"conv"`` (3x3 Conv, stride 2, as in YOLO11)
    or ``"essamp"`` (lossless space-to-depth, H and W even)."""
    if kind == "conv":
        return Conv(c_in, c_out, 3, 2)
    if kind == "essamp":
        return ESSamp(c_in, c_out, depth_multiplier=depth_multiplier)
    raise ValueError(f"Unknown downsampling {kind!r}; expected one of {DOWNSAMPLES}")
