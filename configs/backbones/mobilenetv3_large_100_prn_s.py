"""PRN-s over timm's ``mobilenetv3_large_100`` (mobile class) with its own stem; otherwise the
paper's model and recipe (``configs/PRNet/prnet_s.py``). EfficientNet:
``model.backbone.bottom_up.model_name=efficientnet_b0``. ESSamp-stem twin:
``mobilenetv3_large_100_essamp_prn_s.py``; sizes in ``docs/backbones.md``.

Random init by default (no downloads). ImageNet weights:
``model.backbone.bottom_up.pretrained=True`` (timm's source) or
``model.backbone.bottom_up.weights=/path/to/mobilenetv3_large_100.pth`` (a local timm checkpoint);
then also ``model.pixel_mean=[123.675,116.28,103.53] model.pixel_std=[58.395,57.12,57.375]``
(ImageNet's RGB normalisation; the default divides by 255 as the reference does).
"""
from detectron2.config import LazyCall as L

from prnet.modeling import TimmBackbone

from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up = L(TimmBackbone)(
    model_name="mobilenetv3_large_100",
    out_features=("res2", "res3", "res4", "res5"),
    pretrained=False,
)
train.output_dir = "./output/backbones/mobilenetv3_large_100_prn_s"
