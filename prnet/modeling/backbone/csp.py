"""The PRNet backbone: a YOLO11-style CSP network with an ESSamp stem, registered as timm models.

``timm.create_model("prnet_csp_s", features_only=True)`` yields the stride 4/8/16/32 maps (B2..B5 in
docs/paper.md) exactly as it does for ``resnet50``; ``TimmBackbone`` turns that into a Detectron2 backbone.

Layer table (docs/paper.md; reference widths before scaling):

=====  ======================================  ======  ==============================
stage  layers                                  stride  feature (timm ``feature_info``)
=====  ======================================  ======  ==============================
stem   ESSamp(3 -> 64)                         2       index 0
0      ESSamp(64 -> 128), C3k2(256, e=.25)     4       index 1 (B2)
1      Conv s2 (256), C3k2(512, e=.25)         8       index 2 (B3)
2      Conv s2 (512), C3k2(512, c3k)           16      index 3 (B4)
3      Conv s2 (1024), C3k2(1024, c3k),        32      index 4 (B5)
       SPPF(1024), C2PSA(1024)
=====  ======================================  ======  ==============================
"""
from __future__ import annotations

from torch import nn
from timm.layers import ClassifierHead
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model

from ...layers import C2PSA, C3k2, SPPF, Conv, make_downsample
from ..scales import ModelScale, get_scale

__all__ = ["CSPBackbone"]


class CSPBackbone(nn.Module):
    """YOLO11-style CSP backbone with a selectable stem (timm model; NCHW in, NCHW features out).

    Args:
        scale: "n", "s", "m", "l", "x" or a ``ModelScale``.
        stem: "essamp" (PRNet) or "conv" (YOLO11): the kind of the first two stride-2 steps.
        scale_stem: whether the stem widths (64, 128) follow the width multiplier. ``None`` (default)
            follows the reference: ESSamp stems stay 64/128 at every scale (needed to match the published
            model sizes), conv stems are scaled as in YOLO11.
        essamp_depth_multiplier: depth multiplier of the ESSamp stem's depthwise conv.
        num_classes, global_pool, drop_rate: timm's classifier head (unused by detection).
    """

    def __init__(
        self,
        scale: str | ModelScale = "s",
        stem: str = "essamp",
        scale_stem: bool | None = None,
        essamp_depth_multiplier: int = 2,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        drop_rate: float = 0.0,
    ):
        super().__init__()
        s = get_scale(scale)
        if scale_stem is None:
            scale_stem = stem != "essamp"
        c_stem1, c_stem2 = (s.channels(64), s.channels(128)) if scale_stem else (64, 128)
        c2, c3, c4, c5 = s.channels(256), s.channels(512), s.channels(512), s.channels(1024)
        rep = s.repeats(2)
        dm = essamp_depth_multiplier

        self.stem = make_downsample(stem, in_chans, c_stem1, dm)
        self.stages = nn.Sequential(
            nn.Sequential(
                make_downsample(stem, c_stem1, c_stem2, dm),
                C3k2(c_stem2, c2, rep, s.c3k(False), e=0.25),
            ),
            nn.Sequential(Conv(c2, c2, 3, 2), C3k2(c2, c3, rep, s.c3k(False), e=0.25)),
            nn.Sequential(Conv(c3, c4, 3, 2), C3k2(c4, c4, rep, c3k=True)),
            nn.Sequential(
                Conv(c4, c5, 3, 2), C3k2(c5, c5, rep, c3k=True), SPPF(c5, c5, 5), C2PSA(c5, c5, rep)
            ),
        )
        # What makes `timm.create_model(..., features_only=True)` work.
        self.feature_info = [dict(num_chs=c_stem1, reduction=2, module="stem")] + [
            dict(num_chs=c, reduction=2 ** (i + 2), module=f"stages.{i}")
            for i, c in enumerate((c2, c3, c4, c5))
        ]
        self.num_classes = num_classes
        self.num_features = self.head_hidden_size = c5
        self.head = ClassifierHead(c5, num_classes, pool_type=global_pool, drop_rate=drop_rate)

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None):
        self.num_classes = num_classes
        self.head.reset(num_classes, global_pool)

    def forward_features(self, x):
        return self.stages(self.stem(x))

    def forward_head(self, x, pre_logits: bool = False):
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


def _cfg(**kwargs):
    # No published weights: these models train from scratch, as in the paper.
    return dict(
        url="", num_classes=1000, input_size=(3, 640, 640), pool_size=(20, 20), crop_pct=1.0,
        interpolation="bilinear", mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
        first_conv="stem", classifier="head.fc", **kwargs,
    )


default_cfgs = generate_default_cfgs({f"prnet_csp_{k}": _cfg() for k in "nsmlx"})


def _create(variant: str, pretrained: bool, **kwargs) -> CSPBackbone:
    return build_model_with_cfg(
        CSPBackbone,
        variant,
        pretrained,
        feature_cfg=dict(flatten_sequential=True, out_indices=(1, 2, 3, 4)),
        **kwargs,
    )


@register_model
def prnet_csp_n(pretrained: bool = False, **kwargs) -> CSPBackbone:
    return _create("prnet_csp_n", pretrained, **dict(scale="n", **kwargs))


@register_model
def prnet_csp_s(pretrained: bool = False, **kwargs) -> CSPBackbone:
    return _create("prnet_csp_s", pretrained, **dict(scale="s", **kwargs))


@register_model
def prnet_csp_m(pretrained: bool = False, **kwargs) -> CSPBackbone:
    return _create("prnet_csp_m", pretrained, **dict(scale="m", **kwargs))


@register_model
def prnet_csp_l(pretrained: bool = False, **kwargs) -> CSPBackbone:
    return _create("prnet_csp_l", pretrained, **dict(scale="l", **kwargs))


@register_model
def prnet_csp_x(pretrained: bool = False, **kwargs) -> CSPBackbone:
    return _create("prnet_csp_x", pretrained, **dict(scale="x", **kwargs))
