"""A Detectron2 ``Backbone`` over any timm model created with ``features_only=True``.

One backbone path for everything: the PRNet CSP backbone (``prnet_csp_*``), ResNets, ConvNeXts, CSP-Darknets,
MobileNets, Swin-like models. Levels are picked **by stride**, not by timm's feature index (index 0 is
stride 2 for ResNets but stride 4 for ConvNeXt), and named ``res{log2(stride)}`` as in Detectron2.
"""
from __future__ import annotations

import difflib
import math
from typing import Sequence

import timm
import torch
from detectron2.modeling import Backbone
from timm.layers import freeze_batch_norm_2d

from . import csp  # noqa: F401  (registers the prnet_csp_* models with timm)

__all__ = ["TimmBackbone", "stride_to_name"]


def stride_to_name(stride: int) -> str:
    return f"res{int(math.log2(stride))}"


def _feature_strides(model_name: str, **kwargs) -> list[int]:
    """Stride of each of a timm model's feature levels (``feature_info`` order), found on the meta
    device so that no weights are allocated or loaded."""
    with torch.device("meta"):
        probe = timm.create_model(model_name, pretrained=False, **kwargs)
    return [info["reduction"] for info in probe.feature_info]


class TimmBackbone(Backbone):
    """Wrap ``timm.create_model(model_name, features_only=True)`` as a Detectron2 backbone.

    Args:
        model_name: any timm model name that supports ``features_only`` (``timm.list_models()``).
        out_features: level names ``res{log2(stride)}`` to return, e.g. ``("res2", "res3", "res4", "res5")``
            for strides 4..32.
        pretrained: load pretrained weights; with ``weights`` set they come from that local file
            (``pretrained_cfg_overlay=dict(file=...)``), otherwise from timm's configured source.
        weights: path of a local checkpoint for the timm model.
        freeze_bn: replace every BatchNorm by a frozen one (``timm.layers.freeze_batch_norm_2d``; keeps timm's
            fused BN+activation layers working, unlike Detectron2's converter).
        freeze_at: like Detectron2's ``FREEZE_AT``: 0 trains everything, 1 freezes the stem, k >= 2 also the
            first k - 1 output levels.
        **model_kwargs: passed to ``timm.create_model`` (e.g. ``stem="conv"`` for ``prnet_csp_*``).
    """

    def __init__(
        self,
        model_name: str,
        out_features: Sequence[str] = ("res2", "res3", "res4", "res5"),
        pretrained: bool = False,
        weights: str | None = None,
        freeze_bn: bool = False,
        freeze_at: int = 0,
        **model_kwargs,
    ):
        super().__init__()
        if model_name not in timm.list_models():
            close = difflib.get_close_matches(model_name, timm.list_models(), n=8)
            raise ValueError(
                f"timm has no model named {model_name!r}. Similar names: {close}. "
                "See timm.list_models() for all."
            )
        strides = _feature_strides(model_name, **model_kwargs)
        available = {stride_to_name(s): i for i, s in enumerate(strides)}
        missing = [f for f in out_features if f not in available]
        if missing:
            raise ValueError(
                f"{model_name} has no feature level(s) {missing}; it offers {sorted(available)} "
                f"(strides {strides})."
            )
        self._out_features = list(out_features)
        out_indices = tuple(available[f] for f in self._out_features)
        overlay = dict(file=weights) if weights else None
        self.model = timm.create_model(
            model_name,
            pretrained=pretrained or bool(weights),
            pretrained_cfg_overlay=overlay,
            features_only=True,
            out_indices=out_indices,
            **model_kwargs,
        )
        info = self.model.feature_info
        self._out_feature_strides = dict(zip(self._out_features, info.reduction()))
        self._out_feature_channels = dict(zip(self._out_features, info.channels()))
        self._channels_last = getattr(self.model, "output_fmt", "NCHW") == "NHWC"  # e.g. Swin
        if freeze_bn:
            self.model = freeze_batch_norm_2d(self.model)
        if freeze_at > 0:
            self._freeze(freeze_at, [n.replace(".", "_") for n in info.module_name()])

    def _freeze(self, freeze_at: int, level_modules: list[str]):
        """Detectron2's FREEZE_AT: 1 freezes what comes before the first output level (the stem),
        k >= 2 also the first k - 1 output levels. (FeatureListNet names "stages.0" "stages_0".)"""
        for name, child in self.model.named_children():
            if freeze_at == 1 and name == level_modules[0]:
                return
            for p in child.parameters():
                p.requires_grad_(False)
            if freeze_at >= 2 and name == level_modules[min(freeze_at, len(level_modules) + 1) - 2]:
                return

    @property
    def size_divisibility(self) -> int:
        return max(self._out_feature_strides.values())

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.model(x)
        if self._channels_last:
            features = [f.permute(0, 3, 1, 2).contiguous() for f in features]
        return dict(zip(self._out_features, features))
