"""PRNet-s with Detectron2's FPN in place of PRN: the same backbone (ESSamp stem, B2-B5 with SPPF and
C2PSA), FPN over all four levels and the same head on p2-p4.

``ScaledFPN`` is ``detectron2.modeling.backbone.FPN`` with ``out_channels`` from ``scale`` (128 at "s").
Only the neck differs from ``PRNet/prnet_s.py``, as in PAN vs PRN."""
from detectron2.config import LazyCall as L

from prnet.modeling import ScaledFPN, TimmBackbone

from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone = L(ScaledFPN)(
    bottom_up=L(TimmBackbone)(
        model_name="prnet_csp_${..scale}",
        out_features=("res2", "res3", "res4", "res5"),
    ),
    in_features=["res2", "res3", "res4", "res5"],
    scale="s",
    top_block=None,
    out_features=["p2", "p3", "p4"],  # res5 feeds the top-down path; no p5 output conv
)
train.output_dir = "./output/ablations/fpn_s"
