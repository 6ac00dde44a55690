"""Detectron2's ``FPN`` with its width taken from a model scale (the FPN ablation, spec Sec. 3).

``ScaledFPN`` *is* ``detectron2.modeling.backbone.FPN`` (same layers, forward and output names); it only
adds a ``scale`` argument so that an FPN config answers the same one-line override as PRN and PAN configs
(``model.backbone.scale=n`` changes the backbone and the neck together).
"""
from __future__ import annotations

from detectron2.modeling import Backbone
from detectron2.modeling.backbone import FPN

from ..scales import ModelScale, get_scale

__all__ = ["ScaledFPN"]


class ScaledFPN(FPN):
    """``FPN(bottom_up, in_features, out_channels, top_block=None)`` with ``out_channels`` from ``scale``.

    Args:
        scale: "n", "s", "m", "l", "x" or a ``ModelScale``; ``out_channels`` defaults to the scaled
            reference width 256 (128 at "s", the width of PRN's and PAN's stride-8 output).
        out_channels: explicit width; overrides ``scale``.
        **kwargs: passed to Detectron2's ``FPN`` (``norm``, ``fuse_type``, ``square_pad``, ...).
    """

    def __init__(
        self,
        bottom_up: Backbone,
        in_features: list[str],
        scale: str | ModelScale = "s",
        out_channels: int | None = None,
        top_block=None,
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
