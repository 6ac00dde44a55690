"""PRN-s over ``mobilenetv3_large_100`` with PRNet's ESSamp stem: conv_stem 3x3/s2 + BN + hard-swish
become ESSamp(3->16). Same channels and strides, so the rest of the network is unchanged; the new
stem starts from random weights (with ``pretrained=True`` the pretrained stem weights are
dropped). Else as ``mobilenetv3_large_100_prn_s.py``.
"""
from .mobilenetv3_large_100_prn_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.essamp_stem = True
train.output_dir = "./output/backbones/mobilenetv3_large_100_essamp_prn_s"
