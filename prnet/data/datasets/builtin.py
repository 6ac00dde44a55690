"""Lazy registration of the aerial benchmarks: VisDrone2019-DET, AI-TOD v1/v2 and UAVDT-DET.

As in Detectron2's own ``builtin.py``, registering only records paths: no file is read until
``DatasetCatalog.get(name)``, so importing this module works when no dataset is present. The
json files are the ones ``datasets/prepare_*.py`` write. Layout under ``$DETECTRON2_DATASETS``
(default ``./datasets``; see ``datasets/README.md``)::

    VisDrone/VisDrone2019-DET-{train,val,test-dev}/images/*.jpg
    VisDrone/prnet_annotations/visdrone2019_{train,val,test-dev}.json
    AI-TOD/images/{train,val,trainval,test}/*.png
    AI-TOD/prnet_annotations/aitod_{v1,v2}_{train,val,trainval,test}.json
    UAVDT/UAV-benchmark-M/M0101/img000001.jpg
    UAVDT/prnet_annotations/uavdt_{train,test}.json

Metadata of each name: ``thing_classes``, ``thing_dataset_id_to_contiguous_id``, ``json_file``,
``image_root``, ``evaluator_type`` ("prnet") and ``protocol`` (the evaluator preset: "visdrone",
"aitod" or "uavdt").
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from detectron2.data import DatasetCatalog, MetadataCatalog

from prnet.data.converters.aitod import AITOD_CLASSES, AITOD_SPLITS
from prnet.data.converters.uavdt import UAVDT_CLASSES
from prnet.data.converters.visdrone import VISDRONE_CLASSES, VISDRONE_SPLITS
from prnet.data.datasets.coco import load_coco_json_with_ignore
from prnet.data.synthetic import register_synthetic_aerial

__all__ = [
    "AERIAL_SPLITS",
    "ANNOTATIONS_DIR",
    "AerialSplit",
    "aerial_split_paths",
    "default_datasets_root",
    "register_all_aerial",
]

ANNOTATIONS_DIR = "prnet_annotations"  # where prepare_*.py write, inside each dataset folder


@dataclass(frozen=True)
class AerialSplit:
    """Where one registered split lives, relative to ``<datasets root>/<dataset_dir>``."""

    name: str
    dataset_dir: str
    json_file: str
    image_root: str
    protocol: str
    thing_classes: tuple[str, ...]
    prepare_script: str


def _split(name: str, dataset_dir: str, image_root: str, protocol: str, classes) -> AerialSplit:
    json_file = f"{ANNOTATIONS_DIR}/{name}.json"
    script = f"prepare_{protocol}.py"  # datasets/prepare_{visdrone,aitod,uavdt}.py
    return AerialSplit(name, dataset_dir, json_file, image_root, protocol, tuple(classes), script)


def _all_splits() -> dict[str, AerialSplit]:
    splits = [
        _split(
            f"visdrone2019_{split}", "VisDrone", f"{folder}/images", "visdrone", VISDRONE_CLASSES
        )
        for split, folder in VISDRONE_SPLITS.items()
    ]
    splits += [
        _split(f"aitod_{version}_{split}", "AI-TOD", f"images/{split}", "aitod", AITOD_CLASSES)
        for version in ("v1", "v2")
        for split in AITOD_SPLITS
    ]
    splits += [
        _split(f"uavdt_{split}", "UAVDT", "UAV-benchmark-M", "uavdt", UAVDT_CLASSES)
        for split in ("train", "test")
    ]
    return {s.name: s for s in splits}


AERIAL_SPLITS: dict[str, AerialSplit] = _all_splits()


def default_datasets_root() -> str:
    """``$DETECTRON2_DATASETS`` (``~`` expanded), default ``"datasets"`` as in Detectron2."""
    return os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets"))


def aerial_split_paths(name: str, root: str | os.PathLike | None = None) -> tuple[str, str]:
    """``(json_file, image_root)`` of a registered name under ``root``; reads no file."""
    if name not in AERIAL_SPLITS:
        raise KeyError(f"unknown aerial dataset {name!r}; known: {sorted(AERIAL_SPLITS)}")
    split = AERIAL_SPLITS[name]
    base = os.path.join(
        os.fspath(root) if root is not None else default_datasets_root(), split.dataset_dir
    )
    return os.path.join(base, split.json_file), os.path.join(base, split.image_root)


def _load(name: str, json_file: str, image_root: str) -> list[dict]:
    if not os.path.isfile(json_file):
        split = AERIAL_SPLITS[name]
        dataset_dir = os.path.dirname(os.path.dirname(json_file))
        raise FileNotFoundError(
            f"dataset {name!r}: {json_file} not found. Create it with "
            f"`python datasets/{split.prepare_script} --root {dataset_dir}` "
            "(see datasets/README.md), or set $DETECTRON2_DATASETS."
        )
    return load_coco_json_with_ignore(json_file, image_root, name)


def register_all_aerial(root: str | os.PathLike | None = None) -> list[str]:
    """Register every name of :data:`AERIAL_SPLITS` under ``root`` (default
    ``$DETECTRON2_DATASETS``). Returns the names.

    Reads no file. Calling it again with the same root changes nothing; with another root it
    re-points the names (so tests or notebooks can switch roots).
    """
    for name in AERIAL_SPLITS:
        split = AERIAL_SPLITS[name]
        json_file, image_root = aerial_split_paths(name, root)
        if name in DatasetCatalog.list():
            meta = MetadataCatalog.get(name)
            if meta.get("json_file") == json_file and meta.get("image_root") == image_root:
                continue
            DatasetCatalog.remove(name)
            MetadataCatalog.remove(name)
        DatasetCatalog.register(name, lambda n=name, j=json_file, i=image_root: _load(n, j, i))
        MetadataCatalog.get(name).set(
            thing_classes=list(split.thing_classes),
            # json ids are 1..K in thing_classes order, as written by the converters
            thing_dataset_id_to_contiguous_id={i + 1: i for i in range(len(split.thing_classes))},
            json_file=json_file,
            image_root=image_root,
            evaluator_type="prnet",
            protocol=split.protocol,
        )
    return list(AERIAL_SPLITS)


if __name__.endswith(".builtin"):
    # Registered on import, as Detectron2 does for COCO/LVIS; nothing is read here (the synthetic
    # splits are generated on their first DatasetCatalog.get).
    register_all_aerial()
    register_synthetic_aerial()
