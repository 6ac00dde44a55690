"""PRN, the Progressive Refinement Neck of PRNet (arXiv 2510.09531, Sec. 3.2; docs/paper.md).

Where FPN/PAN work mostly on deep, low-resolution maps, PRN keeps going back to the *original* shallow
backbone maps (B2 at stride 4, B3 at stride 8) and refines a stride-4 map in stages:

* stage 1, top-down: B5 -> (+B4) -> (+B3) -> (+B2) = S1 at stride 4;
* ``num_prn_layers`` refinement layers, each: S -> down to stride 8 -> C3k2 -> (+B3) -> up -> (+[B2, S]) = S';
* output stage, built only from the refined stride-4 map S: two stride-2 steps give O4 (stride 16), then
  top-down O4 -> (+B3) = O3 -> (+[B2, S]) = O2.

B2 is reused in every stage, B3 in every stage, B4 once; every stride-4 fusion after stage 1 concatenates
``[B2, previous stride-4 map, upsampled refined stride-8 map]`` in that order. Detection runs on O2/O3/O4,
returned as ``p2``/``p3``/``p4`` (named by stride).
"""
from __future__ import annotations


import torch
from detectron2.modeling import Backbone
from torch import nn

from ...layers import C3k2, make_downsample
from ..scales import ModelScale, get_scale
from .base import StridedNeck, upsample2x

__all__ = ["PRN", "PRNLayer"]



class PRNLayer(nn.Module):
    """One refinement layer: ``(S, B2, B3) -> S'`` at stride 4 (layers 20-27 of the table in docs/paper.md).

    ``S`` goes down to stride 8 (``down3``), through a wide C3k2 (``refine3``), is fused with B3
    (``fuse3``), brought back up and fused with ``[B2, S]`` (``fuse2``).
    """

    def __init__(self, c_s: int, c_b2: int, c_b3: int, s: ModelScale, downsample: str, dm: int = 2):
        super().__init__()
        n = s.repeats(2)
        c_mid, c_wide = s.channels(256), s.channels(512)
        self.down3 = make_downsample(downsample, c_s, c_mid, dm)
        self.refine3 = C3k2(c_mid, c_wide, n, s.c3k(True))
        self.fuse3 = C3k2(c_wide + c_b3, c_mid, n, s.c3k(False))
        self.fuse2 = C3k2(c_b2 + c_s + c_mid, c_mid, n, s.c3k(False))
        self.out_channels = c_mid

    def forward(self, s: torch.Tensor, b2: torch.Tensor, b3: torch.Tensor) -> torch.Tensor:
        r3 = self.fuse3(torch.cat((self.refine3(self.down3(s)), b3), 1))
        return self.fuse2(torch.cat((b2, s, upsample2x(r3)), 1))


class PRN(StridedNeck):
    """The PRN neck as a Detectron2 ``Backbone`` wrapping ``bottom_up``, like ``FPN``.

    Input channels and strides come from ``bottom_up.output_shape()``; the neck's own widths come from
    ``scale``. Outputs ``p2, p3, p4`` (generally ``p{log2 stride}`` of the three finest input levels).

    Args:
        bottom_up: a Detectron2 backbone with (at least) four levels at strides ``s, 2s, 4s, 8s``
            (4/8/16/32 for PRNet).
        in_features: the four bottom_up levels to use, finest first. ``None``: all, sorted by stride.
        scale: "n", "s", "m", "l", "x" or a ``ModelScale`` (the neck's widths and depths).
        num_prn_layers: refinement layers between stage 1 and the output stage (paper: 1; 0..3 tested).
        downsample: stride-2 steps inside the neck: "conv" (paper) or "essamp".
        essamp_depth_multiplier: depth multiplier when ``downsample="essamp"``.
    """

    def __init__(
        self,
        bottom_up: Backbone,
        in_features: list[str] | None = None,
        scale: str | ModelScale = "s",
        num_prn_layers: int = 1,
        downsample: str = "conv",
        essamp_depth_multiplier: int = 2,
    ):
        super().__init__()
        shapes = bottom_up.output_shape()
        if in_features is None:
            in_features = sorted(shapes, key=lambda f: shapes[f].stride)
        in_features = list(in_features)
        strides = [shapes[f].stride for f in in_features]
        if len(strides) != 4 or any(b != 2 * a for a, b in zip(strides, strides[1:])):
            raise ValueError(
                f"PRN needs four bottom-up levels at strides s, 2s, 4s, 8s; got {in_features} with strides "
                f"{strides}"
            )
        if not 0 <= num_prn_layers <= 3:
            raise ValueError(
                f"num_prn_layers must be in 0..3 (the range the paper studies and prnet tests; "
                f"the paper's model has 1), got {num_prn_layers}"
            )
        self.bottom_up = bottom_up
        self.in_features = in_features
        s = get_scale(scale)
        n = s.repeats(2)
        dm = essamp_depth_multiplier
        c_b2, c_b3, c_b4, c_b5 = (shapes[f].channels for f in in_features)
        c128, c256, c512 = s.channels(128), s.channels(256), s.channels(512)

        # Stage 1: top-down to stride 4 (layers 11-19 of docs/paper.md).
        self.stage1_fuse4 = C3k2(c_b5 + c_b4, c512, n, s.c3k(True))
        self.stage1_fuse3 = C3k2(c512 + c_b3, c256, n, s.c3k(False))
        self.stage1_fuse2 = C3k2(c256 + c_b2, c128, n, s.c3k(False))
        # Stage 2: progressive refinement of the stride-4 map (layers 20-27, once per layer).
        layers, c_s = [], c128
        for _ in range(num_prn_layers):
            layers.append(PRNLayer(c_s, c_b2, c_b3, s, downsample, dm))
            c_s = layers[-1].out_channels
        self.prn_layers = nn.ModuleList(layers)
        # Stage 3: the output pyramid, built from the refined stride-4 map only (layers 28-37).
        self.out_down3 = make_downsample(downsample, c_s, c128, dm)
        self.out_down4 = make_downsample(downsample, c128, c256, dm)
        self.out_fuse4 = C3k2(c256, c512, n, s.c3k(False))
        self.out_fuse3 = C3k2(c512 + c_b3, c256, n, s.c3k(False))
        self.out_fuse2 = C3k2(c_b2 + c_s + c256, c128, n, s.c3k(False))

        self._set_outputs(strides[:3], [c128, c256, c512], strides[-1])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.bottom_up(x)
        b2, b3, b4, b5 = (feats[f] for f in self.in_features)
        t4 = self.stage1_fuse4(torch.cat((upsample2x(b5), b4), 1))
        t3 = self.stage1_fuse3(torch.cat((upsample2x(t4), b3), 1))
        s = self.stage1_fuse2(torch.cat((upsample2x(t3), b2), 1))
        for layer in self.prn_layers:
            s = layer(s, b2, b3)
        o4 = self.out_fuse4(self.out_down4(self.out_down3(s)))
        o3 = self.out_fuse3(torch.cat((upsample2x(o4), b3), 1))
        o2 = self.out_fuse2(torch.cat((b2, s, upsample2x(o3)), 1))
        return dict(zip(self._out_features, (o2, o3, o4)))
