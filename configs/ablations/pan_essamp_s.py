"""YOLO11-s + ESSamp stem: the PAN baseline with PRNet's backbone (9.49 M at 10 classes,
docs/paper.md)."""
from .pan_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.stem = "essamp"
train.output_dir = "./output/ablations/pan_essamp_s"
