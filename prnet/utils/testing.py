"""Helpers for fast tests and smoke runs: tiny synthetic datasets and tiny-model overrides."""

from __future__ import annotations

import json
import os

from detectron2.engine import HookBase, default_setup
from detectron2.utils import comm

from prnet.data.synthetic import register_synthetic_aerial

from .paths import repo_root

__all__ = [
    "TINY_OVERRIDES",
    "train_on_tiny_data",
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


class _RecordBatches(HookBase):
    """A trainer hook writing the image ids of every iteration's (local) batch to
    ``<directory>/rank<r>.json``, to check how processes share the data."""

    def __init__(self, directory: str):
        self.directory, self.batches = directory, []

    def before_train(self):
        batches, source = self.batches, iter(self.trainer.data_loader)

        def recording():
            for batch in source:
                batches.append([d["image_id"] for d in batch])
                yield batch

        self.trainer._data_loader_iter_obj = recording()  # Detectron2's lazily created iterator

    def after_train(self):
        os.makedirs(self.directory, exist_ok=True)
        with open(os.path.join(self.directory, f"rank{comm.get_rank()}.json"), "w") as f:
            json.dump(self.batches, f)


class _StopAfter(HookBase):
    """A trainer hook that crashes after iteration ``last`` (its checkpoint written)."""

    def __init__(self, last: int):
        self.last = last

    def after_step(self):
        if self.trainer.iter == self.last:
            raise RuntimeError(f"simulated crash after iteration {self.last}")


def train_on_tiny_data(data_root: str, prefix: str, argv: list[str], record_dir: str | None = None,
                       stop_after: int | None = None):  # fmt: skip
    """What each (spawned) process runs in the multi-process tests: register the tiny synthetic
    set, parse ``argv`` with the training tool's parser, train with ``do_train`` (plus the hooks
    above when asked). Module level, so ``torch.multiprocessing`` can start it."""
    from prnet.config import load_config
    from prnet.engine import train_loop

    train, val = register_tiny_synthetic(data_root, prefix, num_train=32, num_val=6)
    args = train_loop.argument_parser().parse_args(
        [*argv, f"dataloader.train.dataset.names={train}", f"dataloader.test.dataset.names={val}"]
    )
    cfg = load_config(args.config_file, args.opts)
    default_setup(cfg, args)
    hooks = [_RecordBatches(record_dir)] if record_dir else []
    hooks += [_StopAfter(stop_after)] if stop_after is not None else []
    train_loop.do_train(args, cfg, extra_hooks=hooks)
