"""PRN-s over ``resnet18`` with PRNet's ESSamp stem: conv1 7x7/s2 + BN + ReLU and max-pool/s2 become
ESSamp(3->64) + ESSamp(64->64). Same channels and strides, so the rest of the network is
unchanged; the new stem starts from random weights (with ``pretrained=True`` the pretrained stem
weights are dropped). Else as ``resnet18_prn_s.py``.
"""
from .resnet18_prn_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.essamp_stem = True
train.output_dir = "./output/backbones/resnet18_essamp_prn_s"
