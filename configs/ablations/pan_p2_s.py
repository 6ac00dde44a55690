"""YOLO11-s with a P2 level: the PAN baseline extended to stride 4 (outputs p2..p5, conv stem)."""
from .pan_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.with_p2 = True
model.backbone.bottom_up.out_features = ("res2", "res3", "res4", "res5")
train.output_dir = "./output/ablations/pan_p2_s"
