"""The decoupled anchor-free detection head of PRNet (YOLO11's, docs/paper.md) and its box decoding.

Per level, a box branch predicts for each side (left, top, right, bottom) a distribution over
``reg_max`` distances in stride units (DFL, Distribution Focal Loss); a class branch predicts
``num_classes`` logits. A point's box is its cell centre minus/plus the expected distances x stride.
"""
from __future__ import annotations

import math

import torch
from detectron2.layers import ShapeSpec
from torch import nn

from ...layers import Conv, DWConv

__all__ = ["DenseHead", "make_points", "dfl_to_distances", "distances_to_boxes"]


def make_points(
    features: list[torch.Tensor], strides: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell centres of every level, in input-image pixels: ``(A, 2)`` (x, y) and their strides ``(A,)``.

    Order matches the flattened head outputs: level by level, row-major inside a level.
    """
    points, point_strides = [], []
    for feature, stride in zip(features, strides):
        h, w = feature.shape[-2:]
        kwargs = dict(device=feature.device, dtype=torch.float32)
        ys = (torch.arange(h, **kwargs) + 0.5) * stride
        xs = (torch.arange(w, **kwargs) + 0.5) * stride
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        points.append(torch.stack((xx.reshape(-1), yy.reshape(-1)), -1))
        point_strides.append(torch.full((h * w,), float(stride), **kwargs))
    return torch.cat(points), torch.cat(point_strides)


def dfl_to_distances(box_logits: torch.Tensor, reg_max: int) -> torch.Tensor:
    """``(..., 4 * reg_max)`` logits -> ``(..., 4)`` expected ltrb distances in stride units."""
    probs = box_logits.unflatten(-1, (4, reg_max)).softmax(-1)
    bins = torch.arange(reg_max, device=box_logits.device, dtype=probs.dtype)
    return probs @ bins


def distances_to_boxes(
    distances: torch.Tensor, points: torch.Tensor, strides: torch.Tensor
) -> torch.Tensor:
    """ltrb distances ``(..., A, 4)`` in stride units -> XYXY boxes in pixels ``(..., A, 4)``."""
    d = distances * strides[:, None]
    return torch.cat((points - d[..., :2], points + d[..., 2:]), -1)


class DenseHead(nn.Module):
    """Per-level box (DFL) and class branches (YOLO11's), weights not shared between levels.

    Box branch: Conv3x3(-> c2) -> Conv3x3 -> 1x1 conv to ``4 * reg_max``, ``c2 = max(16, C_P2 / 4, 4 reg_max)``.
    Class branch: DWConv3x3 -> Conv1x1(-> c3) -> DWConv3x3 -> Conv1x1 -> 1x1 conv to ``num_classes``,
    ``c3 = max(C_P2, min(num_classes, 100))``. ``channels=(c2, c3)`` sets both widths instead, e.g.
    to give necks of different widths the same head in an ablation.

    ``forward(features)`` takes the levels finest first, ``(N, C_i, H_i, W_i)``, and returns
    ``(box_logits, cls_logits)``: ``(N, A, 4 * reg_max)`` and ``(N, A, num_classes)`` with
    ``A = sum(H_i W_i)`` in the order of :func:`make_points`.
    """

    def __init__(
        self,
        input_shape: list[ShapeSpec],
        num_classes: int,
        reg_max: int = 16,
        prior_image_size: int = 640,
        channels: tuple[int, int] | None = None,
    ):
        super().__init__()
        in_channels = [s.channels for s in input_shape]
        self.strides = [s.stride for s in input_shape]
        self.num_classes = num_classes
        self.reg_max = reg_max
        if channels is None:
            c_box, c_cls = self.default_channels(in_channels[0], num_classes, reg_max)
        else:
            c_box, c_cls = (int(c) for c in channels)
        self.box_branches = nn.ModuleList(
            nn.Sequential(Conv(c, c_box, 3), Conv(c_box, c_box, 3), nn.Conv2d(c_box, 4 * reg_max, 1))
            for c in in_channels
        )
        self.cls_branches = nn.ModuleList(
            nn.Sequential(
                DWConv(c, c, 3),
                Conv(c, c_cls, 1),
                DWConv(c_cls, c_cls, 3),
                Conv(c_cls, c_cls, 1),
                nn.Conv2d(c_cls, num_classes, 1),
            )
            for c in in_channels
        )
        self._init_biases(prior_image_size)

    @staticmethod
    def default_channels(finest_channels: int, num_classes: int, reg_max: int = 16):
        """The reference's branch widths ``(c_box, c_cls)`` from the finest level's channels."""
        return max(16, finest_channels // 4, 4 * reg_max), max(finest_channels, min(num_classes, 100))

    @torch.no_grad()
    def _init_biases(self, image_size: int):
        # As in the reference: box logits start flat; class logits start at a prior of about
        # 5 objects per image spread over the level's (image_size / stride)^2 cells.
        for box, cls, stride in zip(self.box_branches, self.cls_branches, self.strides):
            box[-1].bias.fill_(1.0)
            cls[-1].bias.fill_(math.log(5 / self.num_classes / (image_size / stride) ** 2))

    def forward(self, features: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        box_logits, cls_logits = [], []
        for x, box, cls in zip(features, self.box_branches, self.cls_branches):
            box_logits.append(box(x).flatten(2).transpose(1, 2))
            cls_logits.append(cls(x).flatten(2).transpose(1, 2))
        return torch.cat(box_logits, 1), torch.cat(cls_logits, 1)
