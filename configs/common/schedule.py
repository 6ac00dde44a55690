"""LR multipliers: linear warm-up over ``train.warmup_epochs``, then linear (the paper) or cosine
decay to 0.01 over ``train.epochs``."""
from detectron2.config import LazyCall as L

from prnet.solver import warmup_decay

lr_multiplier = L(warmup_decay)(
    epochs="${..train.epochs}",
    warmup_epochs="${..train.warmup_epochs}",
    decay="linear",
    final_factor=0.01,
)

lr_multiplier_cosine = L(warmup_decay)(
    epochs="${..train.epochs}",
    warmup_epochs="${..train.warmup_epochs}",
    decay="cosine",
    final_factor=0.01,
)
