"""PRNet-s with ESSamp depth multiplier 2 in the backbone stem: the paper's value, spelled out so the
depth-multiplier grid (1-4) is four files."""
from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.essamp_depth_multiplier = 2
train.output_dir = "./output/ablations/essamp_dm2_s"
