"""SGD with the paper's recipe (lr 0.01, momentum 0.937 nesterov, weight decay 5e-4 on conv/linear
weights only), translated to batch-mean losses without gradient accumulation: lr = 0.01 * total
batch and weight decay = 5e-4 / 64 (derivation in ``prnet.solver.recipe``). Biases form their own
param groups (flag ``bias_warmup``) for the recipe's bias-LR warm-up, and momentum ramps from 0.8
during warm-up (``train.warmup_momentum``, ``prnet.engine.WarmupMomentumAndBiasLR``).
"""
import torch
from detectron2.config import LazyCall as L
from detectron2.solver.build import get_default_optimizer_params

from prnet.solver import batch_mean_lr, batch_mean_weight_decay

SGD = L(torch.optim.SGD)(
    # params.model is set to the model before instantiation (as in Detectron2's tools)
    params=L(get_default_optimizer_params)(
        weight_decay_norm=0.0, overrides={"bias": {"weight_decay": 0.0, "bias_warmup": True}}
    ),
    lr=L(batch_mean_lr)(
        base_lr=0.01, total_batch_size="${...dataloader.train.total_batch_size}"
    ),
    momentum=0.937,
    nesterov=True,
    weight_decay=L(batch_mean_weight_decay)(base_weight_decay=5e-4),
)

AdamW = L(torch.optim.AdamW)(
    params=L(get_default_optimizer_params)(weight_decay_norm=0.0, weight_decay_bias=0.0),
    lr=1e-3,
    betas=(0.9, 0.999),
    weight_decay=0.05,
)
