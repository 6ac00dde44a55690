"""Optimisation recipe helpers: the paper's (Ultralytics) SGD recipe translated to Detectron2's
batch-mean losses, and epoch-based schedules (see :mod:`prnet.solver.recipe`)."""

from .recipe import (
    EMA_AUTO_WINDOW,
    NOMINAL_BATCH_SIZE,
    TrainSchedule,
    auto_ema,
    batch_mean_lr,
    batch_mean_weight_decay,
    ema_recent_share,
    ema_update_period,
    epochs_to_iters,
    resolve_ema,
    resolve_schedule,
    warmup_decay,
)

__all__ = [
    "EMA_AUTO_WINDOW",
    "NOMINAL_BATCH_SIZE",
    "TrainSchedule",
    "auto_ema",
    "batch_mean_lr",
    "batch_mean_weight_decay",
    "ema_recent_share",
    "ema_update_period",
    "epochs_to_iters",
    "resolve_ema",
    "resolve_schedule",
    "warmup_decay",
]
