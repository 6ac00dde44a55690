"""Optimisation recipe helpers: the paper's (Ultralytics) SGD recipe translated to Detectron2's
batch-mean losses, and epoch-based schedules (see :mod:`prnet.solver.recipe`)."""

from .recipe import (
    NOMINAL_BATCH_SIZE,
    TrainSchedule,
    batch_mean_lr,
    batch_mean_weight_decay,
    ema_update_period,
    epochs_to_iters,
    resolve_schedule,
    warmup_decay,
)

__all__ = [
    "NOMINAL_BATCH_SIZE",
    "TrainSchedule",
    "batch_mean_lr",
    "batch_mean_weight_decay",
    "ema_update_period",
    "epochs_to_iters",
    "resolve_schedule",
    "warmup_decay",
]
