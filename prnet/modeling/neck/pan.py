"""YOLO11's PAN neck (the baseline PRN is compared with in the paper's ablation grid).

A top-down path from the coarsest backbone map, then a bottom-up path back, each step a concat and a
C3k2 (reference widths before scaling, YOLO11's head layers 11-22):

* top-down: B5 -> up, (+B4) -> C3k2(512) = T4 -> up, (+B3) -> C3k2(256) = P3;
* bottom-up: P3 -> Conv s2 (256), (+T4) -> C3k2(512) = P4 -> Conv s2 (512), (+B5) -> C3k2(1024, c3k) = P5.

``with_p2=True`` (the YOLOv8-p2 style extension) continues the top-down path one level further,
T3 -> up, (+B2) -> C3k2(128) = P2, and starts the bottom-up path there: P2 -> Conv s2 (128), (+T3) ->
C3k2(256) = P3 -> ... -> P5 as above. It returns all four levels ``p2..p5`` (keeping P5 so that the
variant only *adds* a fine level to the baseline instead of also removing the coarse one).

B5 is used as given by ``bottom_up``: with ``prnet_csp_*`` it already went through SPPF and C2PSA, as in
YOLO11.
"""
from __future__ import annotations


import torch
from detectron2.modeling import Backbone

from ...layers import C3k2, make_downsample
from ..scales import ModelScale, get_scale
from .base import StridedNeck, upsample2x

__all__ = ["PAN"]



class PAN(StridedNeck):
    """YOLO11's PAN neck as a Detectron2 ``Backbone`` wrapping ``bottom_up``, like ``FPN`` and ``PRN``.

    Input channels and strides come from ``bottom_up.output_shape()``; the neck's widths come from
    ``scale``. Outputs ``p3, p4, p5`` (``p2..p5`` with ``with_p2``), named ``p{log2 stride}``.

    Args:
        bottom_up: a Detectron2 backbone with levels at strides ``s, 2s, 4s`` (plus ``s/2`` below them
            when ``with_p2``): 8/16/32 (and 4) for the CSP backbone.
        in_features: the bottom_up levels to use, finest first (three, or four with ``with_p2``).
            ``None``: the coarsest three (four), sorted by stride.
        scale: "n", "s", "m", "l", "x" or a ``ModelScale`` (the neck's widths and depths).
        with_p2: extend both paths to the stride of the finest input (B2) and also return ``p2``.
        downsample: the bottom-up stride-2 steps: "conv" (YOLO11) or "essamp".
        essamp_depth_multiplier: depth multiplier when ``downsample="essamp"``.
    """

    def __init__(
        self,
        bottom_up: Backbone,
        in_features: list[str] | None = None,
        scale: str | ModelScale = "s",
        with_p2: bool = False,
        downsample: str = "conv",
        essamp_depth_multiplier: int = 2,
    ):
        super().__init__()
        shapes = bottom_up.output_shape()
        num_levels = 4 if with_p2 else 3
        if in_features is None:
            in_features = sorted(shapes, key=lambda f: shapes[f].stride)[-num_levels:]
        in_features = list(in_features)
        strides = [shapes[f].stride for f in in_features]
        if len(strides) != num_levels or any(b != 2 * a for a, b in zip(strides, strides[1:])):
            raise ValueError(
                f"PAN{' with_p2' if with_p2 else ''} needs {num_levels} bottom-up levels at strides "
                f"doubling from level to level; got {in_features} with strides {strides}"
            )
        self.bottom_up = bottom_up
        self.in_features = in_features
        self.with_p2 = with_p2
        s = get_scale(scale)
        n = s.repeats(2)
        dm = essamp_depth_multiplier
        chans = [shapes[f].channels for f in in_features]
        c_b3, c_b4, c_b5 = chans[-3:]
        c128, c256, c512, c1024 = (s.channels(c) for c in (128, 256, 512, 1024))

        # Top-down path (YOLO11 head layers 11-16).
        self.td_fuse4 = C3k2(c_b5 + c_b4, c512, n, s.c3k(False))
        self.td_fuse3 = C3k2(c512 + c_b3, c256, n, s.c3k(False))
        if with_p2:
            self.td_fuse2 = C3k2(c256 + chans[0], c128, n, s.c3k(False))
            # Bottom-up from stride 4: P2 -> P3 fused with the top-down stride-8 map.
            self.bu_down3 = make_downsample(downsample, c128, c128, dm)
            self.bu_fuse3 = C3k2(c128 + c256, c256, n, s.c3k(False))
        # Bottom-up path (YOLO11 head layers 17-22).
        self.bu_down4 = make_downsample(downsample, c256, c256, dm)
        self.bu_fuse4 = C3k2(c256 + c512, c512, n, s.c3k(False))
        self.bu_down5 = make_downsample(downsample, c512, c512, dm)
        self.bu_fuse5 = C3k2(c512 + c_b5, c1024, n, s.c3k(True))

        out_channels = ([c128] if with_p2 else []) + [c256, c512, c1024]
        self._set_outputs(strides, out_channels, strides[-1])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.bottom_up(x)
        b3, b4, b5 = (feats[f] for f in self.in_features[-3:])
        t4 = self.td_fuse4(torch.cat((upsample2x(b5), b4), 1))
        t3 = self.td_fuse3(torch.cat((upsample2x(t4), b3), 1))
        outs = []
        if self.with_p2:
            p2 = self.td_fuse2(torch.cat((upsample2x(t3), feats[self.in_features[0]]), 1))
            p3 = self.bu_fuse3(torch.cat((self.bu_down3(p2), t3), 1))
            outs.append(p2)
        else:
            p3 = t3
        p4 = self.bu_fuse4(torch.cat((self.bu_down4(p3), t4), 1))
        p5 = self.bu_fuse5(torch.cat((self.bu_down5(p4), b5), 1))
        outs += [p3, p4, p5]
        return dict(zip(self._out_features, outs))
