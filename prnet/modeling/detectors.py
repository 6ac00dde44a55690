"""Detectron2's own dense detectors (``RetinaNet``, ``FCOS``) on any prnet neck.

Detectron2's heads share one set of convs across levels, so every level must have one width, and
their configs write that width (and the anchors' strides) by hand. PRN's levels widen with stride
(64/128/256 at scale "s") and all widths change with ``model.backbone.scale``, so these
builders read them from ``backbone.output_shape()`` instead: levels of another width get a 1x1
projection in front of the shared head (``ProjectedHead``), and anchor strides are checked against
the neck. What comes back is Detectron2's ``RetinaNet`` / ``FCOS`` itself (losses, matching,
inference).
"""
from __future__ import annotations

from detectron2.layers import ShapeSpec
from detectron2.modeling import Backbone
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.meta_arch import FCOS, RetinaNet
from detectron2.modeling.meta_arch.fcos import FCOSHead
from detectron2.modeling.meta_arch.retinanet import RetinaNetHead
from torch import nn

__all__ = ["ProjectedHead", "build_fcos", "build_retinanet", "shared_head_width"]


def shared_head_width(shapes: list[ShapeSpec]) -> int:
    """The width of the middle level (finest first): the stride-8 width of a P2-P4 neck, which is
    ``ScaledFPN``'s width at every scale, so PRN- and FPN-based detectors get identical heads."""
    return shapes[len(shapes) // 2].channels


class ProjectedHead(nn.Module):
    """``head([proj_i(f_i)])``: per-level 1x1 convs to ``width`` before a shared-weight head.

    Levels already ``width`` wide pass through unchanged (no parameters): on FPN, the bare head.
    Shapes: ``f_i`` is ``(N, in_channels[i], H_i, W_i)``; the head sees ``(N, width, H_i, W_i)``.
    """

    def __init__(self, head: nn.Module, in_channels: list[int], width: int):
        super().__init__()
        self.proj = nn.ModuleList(
            nn.Identity() if c == width else nn.Conv2d(c, width, kernel_size=1) for c in in_channels
        )
        self.head = head

    def forward(self, features):
        return self.head([proj(f) for proj, f in zip(self.proj, features)])


def _head_inputs(backbone: Backbone, head_in_features, head_width):
    shapes = backbone.output_shape()
    if head_in_features is None:
        head_in_features = sorted(shapes, key=lambda f: shapes[f].stride)
    in_shapes = [shapes[f] for f in head_in_features]
    width = head_width or shared_head_width(in_shapes)
    return list(head_in_features), in_shapes, width


def _wrap(head: nn.Module, in_shapes: list[ShapeSpec], width: int) -> nn.Module:
    channels = [s.channels for s in in_shapes]
    return head if all(c == width for c in channels) else ProjectedHead(head, channels, width)


def build_retinanet(
    *,
    backbone: Backbone,
    num_classes: int,
    anchor_generator: DefaultAnchorGenerator,
    head_in_features: list[str] | None = None,
    head_width: int | None = None,
    head_num_convs: int = 4,
    head_norm: str = "",
    head_prior_prob: float = 0.01,
    **kwargs,
) -> RetinaNet:
    """Detectron2's ``RetinaNet`` with a ``RetinaNetHead`` sized from ``backbone``.

    Args:
        head_in_features: neck levels for the head; ``None``: all, finest first.
        head_width: conv width of the shared head; ``None``: ``shared_head_width``.
        head_num_convs, head_norm, head_prior_prob: ``RetinaNetHead``'s number of convs, norm and
            prior probability.
        **kwargs: ``RetinaNet``'s other arguments (box2box_transform, anchor_matcher, test_*, ...).
    """
    features, in_shapes, width = _head_inputs(backbone, head_in_features, head_width)
    strides = [s.stride for s in in_shapes]
    if list(anchor_generator.strides) != strides:
        raise ValueError(
            f"anchor_generator.strides {list(anchor_generator.strides)} do not match the strides "
            f"{strides} of the head's levels {features}"
        )
    head = RetinaNetHead(
        input_shape=[ShapeSpec(channels=width, stride=s) for s in strides],
        num_classes=num_classes,
        num_anchors=anchor_generator.num_cell_anchors[0],
        conv_dims=[width] * head_num_convs,
        norm=head_norm,
        prior_prob=head_prior_prob,
    )
    return RetinaNet(
        backbone=backbone,
        head=_wrap(head, in_shapes, width),
        head_in_features=features,
        anchor_generator=anchor_generator,
        num_classes=num_classes,
        **kwargs,
    )


def build_fcos(
    *,
    backbone: Backbone,
    num_classes: int,
    head_in_features: list[str] | None = None,
    head_width: int | None = None,
    head_num_convs: int = 4,
    head_norm: str = "GN",
    head_prior_prob: float = 0.01,
    **kwargs,
) -> FCOS:
    """Detectron2's ``FCOS`` with an ``FCOSHead`` sized from ``backbone``; FCOS places its points at
    the strides of ``head_in_features`` itself. Arguments as in ``build_retinanet``."""
    features, in_shapes, width = _head_inputs(backbone, head_in_features, head_width)
    head = FCOSHead(
        input_shape=[ShapeSpec(channels=width, stride=s.stride) for s in in_shapes],
        num_classes=num_classes,
        conv_dims=[width] * head_num_convs,
        norm=head_norm,
        prior_prob=head_prior_prob,
    )
    return FCOS(
        backbone=backbone,
        head=_wrap(head, in_shapes, width),
        head_in_features=features,
        num_classes=num_classes,
        **kwargs,
    )
