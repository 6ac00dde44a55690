"""Registration of synthetic splits in Detectron2's catalogs, generated on first use.

Registering reads and writes nothing, so importing prnet stays cheap; the first
``DatasetCatalog.get(name)`` generates the split (or reuses it from disk) and loads it like any
COCO dataset with ignore regions.
"""

from __future__ import annotations

import functools
import os

from detectron2.data import DatasetCatalog, MetadataCatalog

from prnet.data.datasets.coco import load_coco_json_with_ignore

from .generate import generate_synthetic_aerial, split_paths
from .sprites import SYNTHETIC_CLASSES

#: Evaluation preset named in the metadata: COCO AP with the ignore-region filter (detections
#: of the unlabelled objects inside ignore regions must not count as false positives).
SYNTHETIC_PROTOCOL = "synthetic"

#: Registered by ``register_synthetic_aerial()`` when no ``splits`` are given.
DEFAULT_SPLITS: dict[str, dict] = {
    "synthetic_aerial_train": {"split": "train", "num_images": 250, "seed": 0},
    "synthetic_aerial_val": {"split": "val", "num_images": 50, "seed": 1},
    # `make demo` trains on smaller scenes from the same generator: objects keep their pixel sizes
    # and the density per pixel is the same or higher, so a 2-core CPU sees more objects per second.
    "synthetic_aerial_demo_train": {
        "split": "demo_train",
        "num_images": 600,
        "image_size": (128, 128),
        "seed": 10,
    },
}

_SPLIT_KEYS = {"split", "num_images", "image_size", "seed", "progress"}


def default_root() -> str:
    """``$DETECTRON2_DATASETS/synthetic_aerial`` (``datasets/synthetic_aerial`` if unset)."""
    root = os.path.expanduser(os.environ.get("DETECTRON2_DATASETS", "datasets"))
    return os.path.join(root, "synthetic_aerial")


def _generate_and_load(name: str, root: str, cfg: dict) -> list[dict]:
    json_path = generate_synthetic_aerial(root, **cfg)
    return load_coco_json_with_ignore(json_path, split_paths(root, cfg["split"])[1], name)


def register_synthetic_aerial(root: str | None = None, splits: dict | None = None) -> list[str]:
    """Register synthetic splits in Detectron2's catalogs; images are generated lazily.

    ``splits`` maps dataset name -> keyword arguments of ``generate_synthetic_aerial`` (at least
    ``split``); default ``DEFAULT_SPLITS`` (train: seed 0, val: seed 1). Generation happens on
    the first ``DatasetCatalog.get(name)``. A name that is already registered is replaced, so
    calling this again is harmless and can re-point a name. Returns the registered names.
    """
    root = default_root() if root is None else os.fspath(root)
    splits = DEFAULT_SPLITS if splits is None else splits
    for name, cfg in splits.items():
        unknown = set(cfg) - _SPLIT_KEYS
        if unknown or "split" not in cfg:
            raise ValueError(
                f"synthetic split {name!r}: expected keys {sorted(_SPLIT_KEYS)} including "
                f"'split', got {sorted(cfg)}"
            )
    for name, cfg in splits.items():
        json_file, image_root = split_paths(root, cfg["split"])
        for catalog in (DatasetCatalog, MetadataCatalog):
            if name in catalog.list():
                catalog.remove(name)
        DatasetCatalog.register(name, functools.partial(_generate_and_load, name, root, dict(cfg)))
        # The metadata of any COCO-with-ignore dataset (see prnet.data.datasets.coco), set now
        # so that evaluators and configs can read it before the split is generated.
        MetadataCatalog.get(name).set(
            json_file=json_file,
            image_root=image_root,
            evaluator_type="prnet",
            thing_classes=list(SYNTHETIC_CLASSES),
            thing_dataset_id_to_contiguous_id={i + 1: i for i in range(len(SYNTHETIC_CLASSES))},
            protocol=SYNTHETIC_PROTOCOL,
        )
    return list(splits)
