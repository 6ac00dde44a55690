"""Helpers for fast tests and smoke runs: tiny synthetic datasets and tiny-model overrides."""

from __future__ import annotations

from prnet.data.synthetic import register_synthetic_aerial

from .paths import repo_root

__all__ = [
    "TINY_OVERRIDES",
    "register_tiny_synthetic",
    "register_tiny_val_split",
    "repo_root",
]


def register_tiny_val_split(root: str, name: str) -> str:
    """Register a 2-image synthetic split of 96x128 scenes as ``name`` (export/predict tests)."""
    split = {"split": "val", "num_images": 2, "image_size": (96, 128), "seed": 0, "progress": False}
    (registered,) = register_synthetic_aerial(root, {name: split})
    return registered


def register_tiny_synthetic(
    root: str, prefix: str = "tiny_synthetic", num_train: int = 4, num_val: int = 2,
    image_size: int = 64,
) -> tuple[str, str]:
    """Register ``<prefix>_train`` / ``<prefix>_val``: a few small synthetic aerial images
    (generated lazily under ``root``). Returns the two names."""
    size = (image_size, image_size)
    train, val = f"{prefix}_train", f"{prefix}_val"
    register_synthetic_aerial(
        root,
        {
            train: dict(split="train", num_images=num_train, image_size=size, seed=0,
                        progress=False),
            val: dict(split="val", num_images=num_val, image_size=size, seed=1, progress=False),
        },
    )
    return train, val


#: Overrides that make any experiment config tiny (scale n, 64 px, batch 2, no workers, CPU).
TINY_OVERRIDES = (
    "model.backbone.scale=n",
    "dataloader.train.mapper.image_size=64",
    "dataloader.test.mapper.image_size=64",
    "dataloader.train.total_batch_size=2",
    "dataloader.train.num_workers=0",
    "dataloader.test.num_workers=0",
    "train.device=cpu",
    "train.progress_bar=False",
)
