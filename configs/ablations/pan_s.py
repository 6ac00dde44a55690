"""YOLO11-s: conv stem + YOLO11's PAN neck (P3-P5) + our head; the ablation grid's baseline
(9.43 M at 10 classes, docs/paper.md)."""
from detectron2.config import LazyCall as L

from prnet.modeling import PAN, TimmBackbone

from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone = L(PAN)(
    bottom_up=L(TimmBackbone)(
        model_name="prnet_csp_${..scale}",
        out_features=("res3", "res4", "res5"),
        stem="conv",
    ),
    scale="s",
)
train.output_dir = "./output/ablations/pan_s"
