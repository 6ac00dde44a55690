"""PAN + P2 over PRNet's backbone (ESSamp stem): with ``PRNet/prnet_s.py``, ``fpn_s.py`` and
``pan_essamp_s.py`` the four necks on one backbone and one head."""
from .pan_p2_s import dataloader, lr_multiplier, model, optimizer, train

model.backbone.bottom_up.stem = "essamp"
train.output_dir = "./output/ablations/pan_p2_essamp_s"
