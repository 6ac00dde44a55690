"""PRN-s over ``convnext_atto`` with PRNet's ESSamp stem: the 4x4/s4 patchify conv + LayerNorm
become ESSamp(3->20) + ESSamp(20->40). Same channels and strides, so the rest of the network is
unchanged; the new stem starts from random weights (with ``pretrained=True`` the pretrained stem
weights are dropped). Else as ``convnext_atto_prn_s.py``.
"""
from .convnext_atto_prn_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.essamp_stem = True
train.output_dir = "./output/backbones/convnext_atto_essamp_prn_s"
