"""What PRN and PAN share as Detectron2 backbones wrapping a bottom-up network."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from detectron2.modeling import Backbone

__all__ = ["StridedNeck", "upsample2x"]


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


class StridedNeck(Backbone):
    """Outputs named ``p{log2 stride}``; images padded to the coarsest *input* stride.

    Detectron2's ``Backbone.output_shape()`` reads what :meth:`_set_outputs` records.
    """

    def _set_outputs(self, strides: list[int], channels: list[int], coarsest_input_stride: int):
        self._out_features = [f"p{int(math.log2(s))}" for s in strides]
        self._out_feature_strides = dict(zip(self._out_features, strides))
        self._out_feature_channels = dict(zip(self._out_features, channels))
        self._size_divisibility = coarsest_input_stride

    @property
    def size_divisibility(self) -> int:
        # The coarsest input level (B5, stride 32) must tile the image exactly.
        return self._size_divisibility

    @property
    def padding_constraints(self) -> dict[str, int]:
        # Also guarantees the even sizes that every ESSamp/stride-2 step needs.
        return {"size_divisibility": self._size_divisibility, "square_size": 0}
