"""PRNet-s with 0 PRN refinement layers (paper: 1; 0-3 in the ablation)."""
from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.num_prn_layers = 0
train.output_dir = "./output/ablations/prn_layers_0_s"
