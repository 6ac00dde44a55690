"""Training engine pieces layered on Detectron2's: EMA, hooks (EMA, momentum/bias-LR warm-up,
mosaic switch-off, progress bar), deterministic resume, atomic checkpoints, a NaN/Inf loss policy."""

from .checkpoint import PRNetCheckpointer, incompatibility_report
from .data import SkipSampler, fast_forward_train_loader
from .defaults import GuardedAMPTrainer, GuardedTrainer, build_trainer, place_model, resolve_device
from .ema import ModelEMA, unwrap_model
from .hooks import CloseMosaicHook, EMAHook, ProgressBarHook, WarmupMomentumAndBiasLR

__all__ = [
    "CloseMosaicHook",
    "EMAHook",
    "GuardedAMPTrainer",
    "GuardedTrainer",
    "ModelEMA",
    "PRNetCheckpointer",
    "ProgressBarHook",
    "SkipSampler",
    "build_trainer",
    "fast_forward_train_loader",
    "incompatibility_report",
    "place_model",
    "resolve_device",
    "unwrap_model",
    "WarmupMomentumAndBiasLR",
]
