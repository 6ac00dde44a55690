"""Detectron2 yacs-config support, for users of ``build_model(cfg)`` and ``DefaultTrainer``.

LazyConfig files under ``configs/`` are the main way to configure prnet; this module only makes the
registered ``PRNetDetector`` meta architecture and the ``build_prnet_backbone`` backbone usable from a
yacs ``CfgNode`` as well::

    cfg = get_cfg(); add_prnet_config(cfg)
    cfg.MODEL.META_ARCHITECTURE = "PRNetDetector"
    cfg.MODEL.BACKBONE.NAME = "build_prnet_backbone"
    model = build_model(cfg)
"""
from __future__ import annotations

from detectron2.config import CfgNode as CN
from detectron2.modeling import BACKBONE_REGISTRY

from ..modeling import PRN, TimmBackbone

__all__ = ["add_prnet_config", "build_prnet_backbone"]


def add_prnet_config(cfg: CN) -> CN:
    """Add ``MODEL.PRNET`` and ``MODEL.TIMM`` with the paper's defaults (PRNet-s) and RGB/255 input."""
    cfg.MODEL.PRNET = CN()
    cfg.MODEL.PRNET.NUM_CLASSES = 10
    cfg.MODEL.PRNET.SCALE = "s"
    cfg.MODEL.PRNET.NUM_PRN_LAYERS = 1
    cfg.MODEL.PRNET.DOWNSAMPLE = "conv"
    cfg.MODEL.PRNET.REG_MAX = 16
    cfg.MODEL.PRNET.SCORE_THRESH_TEST = 0.001
    cfg.MODEL.PRNET.NMS_THRESH_TEST = 0.7
    cfg.MODEL.TIMM = CN()
    cfg.MODEL.TIMM.NAME = ""  # empty: "prnet_csp_{SCALE}"
    cfg.MODEL.TIMM.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.TIMM.PRETRAINED = False
    cfg.MODEL.TIMM.FREEZE_AT = 0
    cfg.MODEL.PIXEL_MEAN = [0.0, 0.0, 0.0]
    cfg.MODEL.PIXEL_STD = [255.0, 255.0, 255.0]
    cfg.INPUT.FORMAT = "RGB"
    cfg.TEST.DETECTIONS_PER_IMAGE = 500
    return cfg


@BACKBONE_REGISTRY.register()
def build_prnet_backbone(cfg: CN, input_shape=None) -> PRN:
    """PRN over a timm backbone, from ``MODEL.PRNET`` and ``MODEL.TIMM``."""
    p, t = cfg.MODEL.PRNET, cfg.MODEL.TIMM
    bottom_up = TimmBackbone(
        t.NAME or f"prnet_csp_{p.SCALE}",
        out_features=t.OUT_FEATURES,
        pretrained=t.PRETRAINED,
        freeze_at=t.FREEZE_AT,
    )
    return PRN(bottom_up, scale=p.SCALE, num_prn_layers=p.NUM_PRN_LAYERS, downsample=p.DOWNSAMPLE)
