"""A Detectron2 ``Backbone`` over any timm model created with ``features_only=True``.

One backbone path for everything: the PRNet CSP backbone (``prnet_csp_*``), ResNets, ConvNeXts, CSP-Darknets,
MobileNets, Swin-like models. Levels are picked **by stride**, not by timm's feature index (index 0 is
stride 2 for ResNets but stride 4 for ConvNeXt), and named ``res{log2(stride)}`` as in Detectron2.
With ``essamp_stem=True`` the stem becomes PRNet's ESSamp (``stems.py`` lists the families).
"""
from __future__ import annotations

import difflib
import logging
import math
from typing import Sequence

import timm
import torch
from detectron2.modeling import Backbone
from timm.layers import freeze_batch_norm_2d

from . import csp  # noqa: F401  (registers the prnet_csp_* models with timm)
from .stems import essamp_stem_family, swap_stem_for_essamp

__all__ = ["TimmBackbone", "stride_to_name"]

logger = logging.getLogger(__name__)


def stride_to_name(stride: int) -> str:
    return f"res{int(math.log2(stride))}"


def _feature_strides(model_name: str, **kwargs) -> list[int]:
    """Stride of each of a timm model's feature levels (``feature_info`` order), found on the meta
    device so that no weights are allocated or loaded."""
    with torch.device("meta"):
        probe = timm.create_model(model_name, pretrained=False, **kwargs)
    return [info["reduction"] for info in probe.feature_info]


def _freeze_until(module: torch.nn.Module, stop: str, inclusive: bool, prefix: str = "") -> bool:
    """Freeze ``module``'s children in order up to the submodule at path ``stop`` (frozen too when
    ``inclusive``); returns whether ``stop`` was reached."""
    for name, child in module.named_children():
        path = prefix + name
        if path == stop:
            if inclusive:
                child.requires_grad_(False)
            return True
        if stop.startswith(path + "."):
            return _freeze_until(child, stop, inclusive, path + ".")
        child.requires_grad_(False)
    return False


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
        essamp_stem: replace the model's stride-4 stem (stride-2 for mobile nets) by ESSamp steps
            with the same channels, so levels and strides are unchanged (``stems.py`` lists the
            families; others raise a ValueError). The new layers start from random weights;
            ``pretrained``/``weights`` still load everything else (they are loaded before the swap).
            For ``prnet_csp_*`` this is its own ``stem="essamp"``.
        essamp_depth_multiplier: depth multiplier of those ESSamp steps.
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
        essamp_stem: bool = False,
        essamp_depth_multiplier: int = 2,
        **model_kwargs,
    ):
        super().__init__()
        if model_name not in timm.list_models():
            close = difflib.get_close_matches(model_name, timm.list_models(), n=8)
            raise ValueError(
                f"timm has no model named {model_name!r}. Similar names: {close}. "
                "See timm.list_models() for all."
            )
        swap_stem = essamp_stem and not model_name.startswith("prnet_csp_")
        if essamp_stem and not swap_stem:  # the paper's backbone builds its ESSamp stem itself
            if model_kwargs.get("stem", "essamp") != "essamp":
                raise ValueError(f"essamp_stem=True contradicts stem={model_kwargs['stem']!r}")
            model_kwargs.update(stem="essamp", essamp_depth_multiplier=essamp_depth_multiplier)
        if swap_stem:
            essamp_stem_family(model_name)  # fail before building anything
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
        self.essamp_stem_modules: list[str] = []  # names of the swapped-in ESSamp steps
        if swap_stem:
            loaded = pretrained or bool(weights)
            self._swap_stem(model_name, essamp_depth_multiplier, loaded)
        info = self.model.feature_info
        self._out_feature_strides = dict(zip(self._out_features, info.reduction()))
        self._out_feature_channels = dict(zip(self._out_features, info.channels()))
        self._channels_last = getattr(self.model, "output_fmt", "NCHW") == "NHWC"  # e.g. Swin
        if freeze_bn:
            self.model = freeze_batch_norm_2d(self.model)
        if freeze_at > 0:
            self._freeze(freeze_at, info.module_name())
            stem = [self.model.get_submodule(n) for n in self.essamp_stem_modules]
            if any(not p.requires_grad for m in stem for p in m.parameters()):
                logger.warning(
                    "%s: freeze_at=%d freezes the new ESSamp stem; load its weights first (e.g. "
                    "train.init_checkpoint) or it stays at its random initialisation.",
                    model_name,
                    freeze_at,
                )

    def _swap_stem(self, model_name: str, dm: int, pretrained: bool):
        """ESSamp stem with the same channels/strides (``stems.py``); says what it drops."""
        self.essamp_stem_modules = swap_stem_for_essamp(self.model, model_name, dm)
        (logger.warning if pretrained else logger.info)(
            "%s: stem replaced by ESSamp at %s; these layers are newly initialised%s.",
            model_name,
            self.essamp_stem_modules,
            " (the pretrained stem weights are dropped)" if pretrained else "",
        )

    def _freeze(self, freeze_at: int, level_modules: list[str]):
        """Detectron2's FREEZE_AT: 1 freezes what comes before the first output level (the stem),
        k >= 2 also the first k - 1 output levels. Level modules may sit inside a container
        (EfficientNet's "blocks.1"), so the walk descends into the children that hold them."""
        if freeze_at == 1:
            stop, inclusive = level_modules[0], False
        else:
            stop, inclusive = level_modules[min(freeze_at - 2, len(level_modules) - 1)], True
        _freeze_until(self.model, self._module_path(stop), inclusive)

    def _module_path(self, name: str) -> str:
        """timm's feature module name as a path in ``self.model`` (FeatureListNet flattens
        "stages.0" to "stages_0"; EfficientNet's feature models keep "blocks.1")."""
        for candidate in (name, name.replace(".", "_")):
            try:
                self.model.get_submodule(candidate)
                return candidate
            except AttributeError:
                continue
        raise ValueError(f"feature module {name!r} not found in the timm model")

    @property
    def size_divisibility(self) -> int:
        return max(self._out_feature_strides.values())

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.model(x)
        if self._channels_last:
            features = [f.permute(0, 3, 1, 2).contiguous() for f in features]
        return dict(zip(self._out_features, features))
