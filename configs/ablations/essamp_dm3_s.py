"""PRNet-s with ESSamp depth multiplier 3 in the backbone stem (paper: 2)."""
from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.essamp_depth_multiplier = 3
train.output_dir = "./output/ablations/essamp_dm3_s"
