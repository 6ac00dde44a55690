"""The built-in synthetic aerial set (``prnet.data.synthetic``; generated on first use), scored
with the ``synthetic`` preset: AI-TOD size bins (APvt < 8 px, APt 8-16 px) and detection budget,
plus the ignore-region filter (its regions hold unlabelled objects)."""
from .yolo import dataloader

dataloader.train.dataset.names = "synthetic_aerial_train"
dataloader.test.dataset.names = "synthetic_aerial_val"
dataloader.train.mapper.image_size = 320
dataloader.evaluator.preset = "synthetic"
