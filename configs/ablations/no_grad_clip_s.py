"""PRNet-s trained without the recipe's gradient-norm clipping (``train.clip_grad_norm=None``):
what the clipping is worth."""
from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

train.clip_grad_norm = None
train.output_dir = "./output/ablations/no_grad_clip_s"
