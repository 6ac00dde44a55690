"""COCO-format datasets with aerial-imagery ignore information.

prnet stores ignore information inside an ordinary COCO json so that every tool can read it:

* **ignore regions** (VisDrone category 0, UAVDT ``gt_ignore``, synthetic clutter zones) live on the
  image entry: ``images[i]["ignore_regions"] = [[x, y, w, h], ...]`` (absolute pixels, XYWH).
  In Detectron2 dataset dicts they become ``record["ignore_regions"]``: a list of
  ``[x0, y0, x1, y1]`` (XYXY_ABS). Ground truth and detections mostly (>= 50 % of their area) inside
  a region are dropped by the ``visdrone``/``uavdt`` evaluator presets.
* **ignored boxes** (VisDrone score-0 rows) are ordinary annotations with ``"iscrowd": 1``. pycocotools
  already treats crowd ground truth as "matched detections count as neither TP nor FP", with the
  match measured as intersection over detection area, which is what the VisDrone toolkit does.
  Detectron2's mappers drop crowd annotations from the training targets.
"""
from __future__ import annotations

import json
import os

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import load_coco_json

__all__ = ["load_coco_json_with_ignore", "register_coco_with_ignore", "xywh_to_xyxy"]


def xywh_to_xyxy(box):
    x, y, w, h = (float(v) for v in box)
    return [x, y, x + w, y + h]


def load_coco_json_with_ignore(json_file: str, image_root: str, dataset_name: str | None = None):
    """Detectron2's ``load_coco_json`` plus each image's ``ignore_regions`` (XYXY_ABS)."""
    records = load_coco_json(json_file, image_root, dataset_name)
    with open(json_file, encoding="utf-8") as f:
        images = json.load(f)["images"]
    regions = {img["id"]: img.get("ignore_regions", []) for img in images}
    for record in records:
        record["ignore_regions"] = [xywh_to_xyxy(b) for b in regions.get(record["image_id"], [])]
    return records


def register_coco_with_ignore(name: str, metadata: dict, json_file: str, image_root: str):
    """Like Detectron2's ``register_coco_instances``, keeping ignore regions (see module doc)."""
    json_file, image_root = os.fspath(json_file), os.fspath(image_root)
    DatasetCatalog.register(
        name, lambda: load_coco_json_with_ignore(json_file, image_root, name)
    )
    MetadataCatalog.get(name).set(
        json_file=json_file, image_root=image_root, evaluator_type="prnet", **metadata
    )
