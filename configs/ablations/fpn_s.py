"""PRNet-s with Detectron2's FPN in place of PRN (ESSamp stem, outputs p2..p4 as PRNet, no top block).

``ScaledFPN`` is ``detectron2.modeling.backbone.FPN`` with ``out_channels`` from ``scale`` (128 at "s")."""
from detectron2.config import LazyCall as L

from prnet.modeling import ScaledFPN, TimmBackbone

from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone = L(ScaledFPN)(
    bottom_up=L(TimmBackbone)(
        model_name="prnet_csp_${..scale}",
        out_features=("res2", "res3", "res4"),
    ),
    in_features=["res2", "res3", "res4"],
    scale="s",
    top_block=None,
)
train.output_dir = "./output/ablations/fpn_s"
