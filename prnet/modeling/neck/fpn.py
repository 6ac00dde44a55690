"""Detectron2's ``FPN`` with its width taken from a model scale (the FPN ablation).

``ScaledFPN`` *is* ``detectron2.modeling.backbone.FPN`` (same layers, forward and output names); it only
adds a ``scale`` argument so that an FPN config answers the same one-line override as PRN and PAN configs
(``model.backbone.scale=n`` changes the backbone and the neck together).
"""
from __future__ import annotations

from typing import Sequence

from detectron2.modeling import Backbone
from detectron2.modeling.backbone import FPN
from torch import nn

from ..scales import ModelScale, get_scale

__all__ = ["ScaledFPN"]


class ScaledFPN(FPN):
    """``FPN(bottom_up, in_features, out_channels, top_block=None)`` with ``out_channels`` from ``scale``.

    Args:
        scale: "n", "s", "m", "l", "x" or a ``ModelScale``; ``out_channels`` defaults to the scaled
            reference width 256 (128 at "s", the width of PRN's and PAN's stride-8 output).
        out_channels: explicit width; overrides ``scale``.
        out_features: the levels to output, e.g. ``["p2", "p3", "p4"]`` over ``res2..res5`` inputs: the
            coarsest input still feeds the top-down path, but a level left out has no output conv
            (no unused parameters, which DDP would reject) and is not returned. ``None``: all.
        **kwargs: passed to Detectron2's ``FPN`` (``norm``, ``fuse_type``, ``square_pad``, ...).
    """

    def __init__(
        self,
        bottom_up: Backbone,
        in_features: list[str],
        scale: str | ModelScale = "s",
        out_channels: int | None = None,
        top_block=None,
        out_features: Sequence[str] | None = None,
        **kwargs,
    ):
        if out_channels is None:
            out_channels = get_scale(scale).channels(256)
        super().__init__(
            bottom_up=bottom_up,
            in_features=in_features,
            out_channels=out_channels,
            top_block=top_block,
            **kwargs,
        )
        # Detectron2's forward names every level in self._out_features; the kept ones are returned
        self._kept = list(self._out_features if out_features is None else out_features)
        unknown = sorted(set(self._kept) - set(self._out_features))
        if unknown:
            raise ValueError(f"FPN has no output(s) {unknown}; it has {self._out_features}")
        # Detectron2 registers output convs as "fpn_output{stage}", coarsest first in the list
        for i, name in enumerate(reversed(self._out_features[: len(self.output_convs)])):
            if name not in self._kept:
                self.output_convs[i] = nn.Identity()
                setattr(self, f"fpn_output{name[1:]}", self.output_convs[i])

    def output_shape(self):
        shapes = super().output_shape()
        return {f: shapes[f] for f in self._kept}

    def forward(self, x):
        outputs = super().forward(x)
        return {f: outputs[f] for f in self._kept}
