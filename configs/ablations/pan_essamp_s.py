"""YOLO11-s + ESSamp stem: the PAN baseline with PRNet's backbone (spec Sec. 3: 9.49 M at nc=10)."""
from .pan_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.stem = "essamp"
train.output_dir = "./output/ablations/pan_essamp_s"
