"""Small pieces of the training tool that are worth sharing (tests, demo, notebooks)."""

from __future__ import annotations

import logging

import torch
from detectron2.engine import AMPTrainer, SimpleTrainer

__all__ = ["build_trainer", "place_model", "resolve_device"]

logger = logging.getLogger(__name__)

_PRECISIONS = {"float16": torch.float16, "fp16": torch.float16, "bfloat16": torch.bfloat16,
               "bf16": torch.bfloat16}


def resolve_device(device: str | None = None) -> str:
    """``device`` if given, else "cuda" when available, else "cpu"."""
    if device:
        return str(device)
    return "cuda" if torch.cuda.is_available() else "cpu"


def place_model(model: torch.nn.Module, device: str, channels_last: bool | None = None):
    """Move ``model`` to ``device``; ``channels_last`` (None: on CPU only) stores conv weights NHWC,
    which makes oneDNN's CPU convolutions about 1.5x faster for PRNet training (measured on 2 cores:
    PRNet-n, 16 x 128 px, 0.95 -> 0.65 s per iteration). Outputs are unchanged."""
    model.to(device)
    if channels_last is None:
        channels_last = str(device) == "cpu"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model


def build_trainer(model, data_loader, optimizer, amp: dict | None = None, device: str = "cpu"):
    """Detectron2's ``AMPTrainer`` when ``amp.enabled`` on CUDA, else ``SimpleTrainer``.

    ``amp.precision``: "float16" (with a gradient scaler) or "bfloat16" (no scaling needed).
    AMP needs CUDA; on CPU it is turned off with a warning, so a GPU config also runs on CPU.
    """
    amp = dict(amp or {})
    if amp.get("enabled", False):
        if not str(device).startswith("cuda"):
            logger.warning(f"AMP needs CUDA; training in float32 on {device!r}.")
        else:
            precision = amp.get("precision", "float16")
            if precision not in _PRECISIONS:
                raise ValueError(f"train.amp.precision must be one of {sorted(_PRECISIONS)}")
            dtype = _PRECISIONS[precision]
            scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
            return AMPTrainer(model, data_loader, optimizer, grad_scaler=scaler, precision=dtype)
    return SimpleTrainer(model, data_loader, optimizer)

