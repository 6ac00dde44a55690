"""Model-agnostic building blocks (no knowledge of strides, scales or detectors)."""
from .blocks import (
    BN_EPS,
    BN_MOMENTUM,
    C2PSA,
    C3k,
    C3k2,
    SPPF,
    Attention,
    Bottleneck,
    Conv,
    DWConv,
    PSABlock,
    make_bn,
)
from .downsample import DOWNSAMPLES, make_downsample
from .essamp import ESSamp, ESSampExportForm
from .fuse import fuse_conv_bn, to_export_form

__all__ = [
    "BN_EPS",
    "BN_MOMENTUM",
    "make_bn",
    "Conv",
    "DWConv",
    "Bottleneck",
    "C3k",
    "C3k2",
    "SPPF",
    "Attention",
    "PSABlock",
    "C2PSA",
    "ESSamp",
    "ESSampExportForm",
    "DOWNSAMPLES",
    "make_downsample",
    "fuse_conv_bn",
    "to_export_form",
]
