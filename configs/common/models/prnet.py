"""PRNet (paper model: ESSamp stem, one PRN layer, P2-P4 head). Scale "s" unless overridden.

One-line overrides:
    model.backbone.scale = "l"                            # backbone and neck follow the scale
    model.backbone.num_prn_layers = 2                     # 0..3
    model.backbone.bottom_up.model_name = "resnet50"      # any timm model with features_only
    model.backbone.bottom_up.stem = "conv"                # prnet_csp_* only: YOLO11 conv stem
    model.backbone.downsample = "essamp"                  # ESSamp inside the neck too
    model.num_classes = 10                                # null (default): the training dataset's
"""
from detectron2.config import LazyCall as L

from prnet.modeling import PRN, PRNetDetector, TimmBackbone

model = L(PRNetDetector)(
    backbone=L(PRN)(
        bottom_up=L(TimmBackbone)(
            model_name="prnet_csp_${..scale}",
            out_features=("res2", "res3", "res4", "res5"),
        ),
        scale="s",
        num_prn_layers=1,
        downsample="conv",
    ),
    num_classes=None,  # the training dataset's len(thing_classes) (prnet.config.num_classes)
    max_detections_per_image=500,
)
