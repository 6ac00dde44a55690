"""PRN with YOLO11's conv stem instead of ESSamp (7.73 M, docs/paper.md)."""
from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.stem = "conv"
train.output_dir = "./output/ablations/conv_stem_s"
