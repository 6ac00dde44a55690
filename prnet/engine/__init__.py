"""Training engine pieces layered on Detectron2's: EMA, hooks, deterministic resume."""

from .data import SkipSampler, fast_forward_train_loader
from .defaults import build_trainer, place_model, resolve_device
from .ema import ModelEMA, unwrap_model
from .hooks import CloseMosaicHook, EMAHook, ProgressBarHook

__all__ = [
    "CloseMosaicHook",
    "EMAHook",
    "ModelEMA",
    "ProgressBarHook",
    "SkipSampler",
    "build_trainer",
    "fast_forward_train_loader",
    "place_model",
    "resolve_device",
    "unwrap_model",
]
