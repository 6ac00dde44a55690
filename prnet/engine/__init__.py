"""Training engine layered on Detectron2's: the training/evaluation loop (``train_loop``), EMA,
hooks (EMA, momentum/bias-LR warm-up, mosaic switch-off, progress bar), deterministic resume,
atomic checkpoints, trainers with a NaN/Inf loss policy and gradient clipping (``trainer``)."""

from .checkpoint import CheckpointMismatchError, PRNetCheckpointer, incompatibility_report
from .data import SkipSampler, fast_forward_train_loader
from .trainer import GuardedAMPTrainer, GuardedTrainer, build_trainer, place_model, resolve_device
from .ema import ModelEMA, unwrap_model
from .hooks import (
    BestCheckpointer,
    CloseMosaicHook,
    EMAHook,
    PeriodicCheckpointer,
    ProgressBarHook,
    WarmupMomentumAndBiasLR,
)
from .train_loop import build_evaluator, do_test, do_train

__all__ = [
    "CheckpointMismatchError",
    "BestCheckpointer",
    "CloseMosaicHook",
    "EMAHook",
    "GuardedAMPTrainer",
    "GuardedTrainer",
    "ModelEMA",
    "PRNetCheckpointer",
    "PeriodicCheckpointer",
    "ProgressBarHook",
    "SkipSampler",
    "build_evaluator",
    "build_trainer",
    "do_test",
    "do_train",
    "fast_forward_train_loader",
    "incompatibility_report",
    "place_model",
    "resolve_device",
    "unwrap_model",
    "WarmupMomentumAndBiasLR",
]
