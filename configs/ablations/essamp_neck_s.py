"""PRNet-s with ESSamp also for the stride-2 steps inside the PRN neck (paper: conv)."""
from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.downsample = "essamp"
train.output_dir = "./output/ablations/essamp_neck_s"
