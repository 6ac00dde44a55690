"""Register your own COCO-format dataset in one call, as prnet registers its built-in ones.

:func:`register_coco` differs from Detectron2's ``register_coco_instances`` in what prnet relies
on: the json is checked now (:func:`~prnet.data.datasets.coco.read_coco_json`: every problem named
with its file and record, instead of a bare ``KeyError`` when training starts), the metadata the
rest of prnet reads is set at once (``thing_classes`` for ``model.num_classes``, the id map and
``json_file`` for ``AerialEvaluator``, an evaluator ``protocol``), and image-level
``ignore_regions`` reach the dataset dicts and the scorer.
"""

from __future__ import annotations

import logging
import os

from detectron2.data import DatasetCatalog, MetadataCatalog

from prnet.data.datasets.coco import load_coco_json_with_ignore, read_coco_json

__all__ = ["coco_metadata", "register_coco", "register_dataset"]

logger = logging.getLogger(__name__)

#: presets suggested in the metadata (``protocol``): AI-TOD's tiny-object size bins, and the same
#: bins with the ignore-region filter when the json has ignore regions (detections of the
#: unlabelled objects inside them must not count as false positives)
DEFAULT_PROTOCOL, DEFAULT_PROTOCOL_WITH_IGNORE = "aitod", "synthetic"


def coco_metadata(coco: dict) -> dict:
    """``thing_classes`` and ``thing_dataset_id_to_contiguous_id`` of a checked COCO dict, by the
    rule Detectron2's ``load_coco_json`` applies (categories sorted by id), so both agree."""
    categories = sorted(coco["categories"], key=lambda c: c["id"])
    return {
        "thing_classes": [str(c["name"]) for c in categories],
        "thing_dataset_id_to_contiguous_id": {c["id"]: i for i, c in enumerate(categories)},
    }


def register_dataset(name: str, loader, **metadata) -> str:
    """Register ``loader`` (a no-argument callable returning dataset dicts) and ``metadata``;
    a name already registered is replaced (re-running a notebook cell must not fail)."""
    for catalog in (DatasetCatalog, MetadataCatalog):
        if name in catalog.list():
            logger.info(f"dataset {name!r} was registered already: replacing it")
            catalog.remove(name)
    DatasetCatalog.register(name, loader)
    MetadataCatalog.get(name).set(evaluator_type="prnet", **metadata)
    return name


def _without_ignore_regions(json_file: str, image_root: str, name: str) -> list[dict]:
    records = load_coco_json_with_ignore(json_file, image_root, name)
    for record in records:
        record["ignore_regions"] = []
    return records


def register_coco(
    name: str,
    json_file: str | os.PathLike,
    image_root: str | os.PathLike,
    *,
    ignore_regions: bool = True,
    protocol: str | None = None,
) -> str:
    """Register a COCO-format dataset as ``name``; returns ``name``.

    Args:
        json_file: COCO instances json (``images`` with ``width``/``height``, ``annotations``
            with XYWH ``bbox``, ``categories``). Checked now: a :class:`DatasetFileError` lists
            every problem (line and column of invalid JSON, duplicate ids, unknown categories,
            bad boxes, ...). Optional ``images[i]["ignore_regions"]``: ``[[x, y, w, h], ...]``.
        image_root: folder the images' ``file_name`` are relative to.
        ignore_regions: keep the json's ignore regions (training crops and mosaics leave them
            unlabelled, the scorer drops detections inside them with a preset that filters
            them); False drops them.
        protocol: the evaluator preset suggested in the metadata (``prnet.evaluation.presets``);
            default "synthetic" (AI-TOD size bins with the ignore filter) when the json has
            ignore regions and they are kept, else "aitod".

    Metadata: ``thing_classes`` (categories sorted by id), ``thing_dataset_id_to_contiguous_id``,
    ``json_file``, ``image_root``, ``evaluator_type`` ("prnet") and ``protocol``. Loading the
    dicts (``DatasetCatalog.get``) stays lazy, as in Detectron2.
    """
    json_file, image_root = os.path.abspath(json_file), os.path.abspath(image_root)
    if not os.path.isdir(image_root):
        raise FileNotFoundError(f"dataset {name!r}: image folder {image_root} does not exist")
    coco = read_coco_json(json_file)  # FileNotFoundError or DatasetFileError naming the file
    has_regions = any(img.get("ignore_regions") for img in coco["images"])
    if protocol is None:
        keep = ignore_regions and has_regions
        protocol = DEFAULT_PROTOCOL_WITH_IGNORE if keep else DEFAULT_PROTOCOL
    from prnet.evaluation.presets import get_preset

    get_preset(protocol)  # an unknown name fails here, listing the known ones
    load = load_coco_json_with_ignore if ignore_regions else _without_ignore_regions
    return register_dataset(
        name,
        lambda: load(json_file, image_root, name),
        json_file=json_file,
        image_root=image_root,
        protocol=protocol,
        **coco_metadata(coco),
    )
