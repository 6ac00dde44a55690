"""Small pieces of the training tool that are worth sharing (tests, demo, notebooks)."""

from __future__ import annotations

import logging

import torch
from detectron2.engine import AMPTrainer, SimpleTrainer

__all__ = ["DEMO_SPLITS", "build_trainer", "register_builtin_datasets", "resolve_device"]

#: Training split of ``configs/demo/prnet_n_synthetic.py``: the generator's scenes at a smaller
#: image size (objects keep their pixel sizes; density per pixel is the same or higher), so a
#: 2-core CPU sees more objects per second. It is scored on the standard ``synthetic_aerial_val``.
DEMO_SPLITS = {
    "synthetic_aerial_demo_train": {
        "split": "demo_train", "num_images": 600, "image_size": (128, 128), "seed": 10,
    },
}

logger = logging.getLogger(__name__)

_PRECISIONS = {"float16": torch.float16, "fp16": torch.float16, "bfloat16": torch.bfloat16,
               "bf16": torch.bfloat16}


def resolve_device(device: str | None = None) -> str:
    """``device`` if given, else "cuda" when available, else "cpu"."""
    if device:
        return str(device)
    return "cuda" if torch.cuda.is_available() else "cpu"


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


def register_builtin_datasets() -> list[str]:
    """Register the synthetic splits and the aerial benchmarks (idempotent).

    Stand-in until ``import prnet.data`` registers them itself.
    """
    from detectron2.data import DatasetCatalog

    from prnet.data.datasets.builtin import register_all_aerial
    from prnet.data.synthetic import register_synthetic_aerial

    names = []
    if "synthetic_aerial_train" not in DatasetCatalog.list():
        names += register_synthetic_aerial()
    if not set(DEMO_SPLITS) <= set(DatasetCatalog.list()):
        names += register_synthetic_aerial(splits=DEMO_SPLITS)
    if "visdrone2019_train" not in DatasetCatalog.list():
        names += register_all_aerial() or []
    return names
