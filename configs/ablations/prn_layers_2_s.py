"""PRNet-s with 2 PRN refinement layers (paper: 1; 0-3 in the ablation)."""
from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.num_prn_layers = 2
train.output_dir = "./output/ablations/prn_layers_2_s"
