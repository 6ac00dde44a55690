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

Every json is checked (:func:`read_coco_json`) before Detectron2's ``load_coco_json`` reads it:
Detectron2 silently gives one image another's boxes when two images share an id, drops
annotations of unknown images with a warning only, and fails on the other problems with bare
``KeyError``/``AssertionError``/``json.JSONDecodeError`` tracebacks that name no record.
"""

from __future__ import annotations

import json
import math
import os

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import load_coco_json

from prnet.data.check import DataCheckReport, DatasetFileError

__all__ = [
    "load_coco_json_with_ignore",
    "read_coco_json",
    "register_coco_with_ignore",
    "xywh_to_xyxy",
]


def xywh_to_xyxy(box):
    x, y, w, h = (float(v) for v in box)
    return [x, y, x + w, y + h]


def _is_id(value) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _is_box(box) -> bool:
    """4 finite numbers (what ``bbox`` and each ignore region must be)."""
    return (
        isinstance(box, list)
        and len(box) == 4
        and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in box
        )
    )


def _is_size(value) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 1
    )


def _parse(json_file: str) -> dict:
    """The json as a dict, or :class:`DatasetFileError` saying where the JSON breaks. Decoded as
    UTF-8 without a BOM, as pycocotools reads it after us."""
    report = DataCheckReport()
    with open(json_file, "rb") as f:
        raw = f.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        report.add_error("invalid_json", f"line {line}, byte {e.start}: not UTF-8 ({e.reason})")
    except json.JSONDecodeError as e:
        cut = " (the file ends early: cut short by an interrupted write?)"
        at_end = e.pos >= len(e.doc.rstrip())
        report.add_error(
            "invalid_json", f"line {e.lineno}, column {e.colno}: {e.msg}{cut * at_end}"
        )
    else:
        if isinstance(data, dict):
            return data
        report.add_error(
            "bad_structure",
            "expected a JSON object with 'images', 'annotations' and 'categories', got a "
            + type(data).__name__,
        )
    raise DatasetFileError(json_file, report)


def read_coco_json(json_file: str | os.PathLike) -> dict:
    """Parse a COCO json and check in one pass what Detectron2's ``load_coco_json`` would get
    silently wrong or fail on with a bare traceback; returns the dict.

    Raises :class:`~prnet.data.check.DatasetFileError` (a ``DataCheckError``) naming the file and
    listing every problem as ``images[i] (id ..., <file_name>)`` / ``annotations[i] (id ...)``:
    invalid JSON (line and column), missing ``images``/``annotations``/``categories`` lists, image
    or annotation ids used twice, images without a positive ``width``/``height`` (the loader opens
    no image, so the sizes come from the json, as ``datasets/prepare_*.py`` write them),
    annotations whose ``bbox`` is not 4 finite numbers or whose ``image_id``/``category_id``
    names no image/category, the ``"ignore"`` flag Detectron2 rejects, malformed ignore regions.
    """
    json_file = os.fspath(json_file)
    data = _parse(json_file)
    report = DataCheckReport()
    err = report.add_error
    lists = {}
    for key, what in (
        ("images", '{"id", "file_name", "width", "height"} per image'),
        ("annotations", '{"id", "image_id", "category_id", "bbox"} per box; [] if none'),
        ("categories", '{"id", "name"} per class, at least one'),
    ):
        lists[key] = data.get(key)
        if not isinstance(lists[key], list) or (key == "categories" and not lists[key]):
            err("bad_structure", f"'{key}': expected a list of {what}, got {lists[key]!r:.60}")
            lists[key] = []

    categories = {}
    for i, cat in enumerate(lists["categories"]):
        if not isinstance(cat, dict) or not _is_id(cat.get("id")) or "name" not in cat:
            err("bad_category", f"categories[{i}] = {cat!r:.80}: expected an 'id' and a 'name'")
        elif cat["id"] in categories:
            err(
                "duplicate_category_id",
                f"categories[{i}]: id {cat['id']!r} already used by "
                f"categories[{categories[cat['id']]}]; give each category its own id",
            )
        else:
            categories[cat["id"]] = i

    images = {}  # id -> (index, file_name)
    for i, img in enumerate(lists["images"]):
        if not isinstance(img, dict) or not _is_id(img.get("id")):
            err("bad_image", f"images[{i}] = {img!r:.80}: expected an object with an 'id'")
            continue
        name = img.get("file_name")
        where = f"images[{i}] (id {img['id']!r}, {name!r})"
        if not isinstance(name, str) or not name:
            err("bad_image", f"{where}: expected a 'file_name'")
        if img["id"] in images:
            j, other = images[img["id"]]
            err(
                "duplicate_image_id",
                f"{where}: id {img['id']!r} already used by images[{j}] ({other!r}); "
                "one would train with the other's boxes, give each image its own id",
            )
            continue
        images[img["id"]] = (i, name)
        if not (_is_size(img.get("width")) and _is_size(img.get("height"))):
            err(
                "missing_image_size",
                f"{where}: expected positive 'width' and 'height' (the image's size in "
                f"pixels), got {img.get('width')!r} x {img.get('height')!r}",
            )
        regions = img.get("ignore_regions", [])
        if not isinstance(regions, list) or not all(_is_box(r) for r in regions):
            err(
                "bad_ignore_regions",
                f"{where}: expected 'ignore_regions' as a list of [x, y, w, h] "
                f"(4 finite numbers each), got {regions!r:.80}",
            )
    if len({type(k) for k in images}) > 1:
        err("bad_image", "image ids mix integers and strings; use one kind")

    annotations = {}  # id -> (index, image_id)
    known_categories = ", ".join(map(str, list(categories)[:20])) + (
        ", ..." if len(categories) > 20 else ""
    )
    for i, ann in enumerate(lists["annotations"]):
        if not isinstance(ann, dict) or not _is_id(ann.get("id")):
            err(
                "bad_annotation",
                f"annotations[{i}] = {ann!r:.80}: expected an object with an 'id'",
            )
            continue
        image_id = ann.get("image_id")
        image = images.get(image_id) if _is_id(image_id) else None
        where = f"annotations[{i}] (id {ann['id']!r}, image_id {image_id!r}" + (
            f", {image[1]!r})" if image else ")"
        )
        if ann["id"] in annotations:
            j, other = annotations[ann["id"]]
            err(
                "duplicate_annotation_id",
                f"{where}: id {ann['id']!r} already used by annotations[{j}] "
                f"(image_id {other!r}); give each annotation its own id",
            )
        else:
            annotations[ann["id"]] = (i, image_id)
        if image is None:
            err(
                "unknown_image_id",
                f"{where}: image_id {image_id!r} is not the id of any image in 'images' "
                "(the box would be dropped)",
            )
        category = ann.get("category_id")
        if not (_is_id(category) and category in categories):
            err(
                "unknown_category",
                f"{where}: category_id={category!r} but this id does not exist in "
                f"'categories' (ids: {known_categories})",
            )
        if not _is_box(ann.get("bbox")):
            err(
                "bad_bbox",
                f"{where}: expected 'bbox' as 4 finite numbers [x, y, w, h], got "
                f"{ann.get('bbox')!r:.80}",
            )
        if ann.get("ignore", 0) != 0:  # Detectron2 asserts this, naming no record
            err(
                "ignore_flag",
                f"{where}: 'ignore'={ann['ignore']!r} is not supported by Detectron2; "
                "drop the key and mark the box 'iscrowd': 1 instead",
            )
    if report.errors:
        report.num_images = len(lists["images"])
        raise DatasetFileError(json_file, report)
    return data


def load_coco_json_with_ignore(json_file: str, image_root: str, dataset_name: str | None = None):
    """Detectron2's ``load_coco_json`` plus each image's ``ignore_regions`` (XYXY_ABS), after
    :func:`read_coco_json` found nothing wrong with the file."""
    images = read_coco_json(json_file)["images"]
    records = load_coco_json(json_file, image_root, dataset_name)
    regions = {img["id"]: img.get("ignore_regions", []) for img in images}
    for record in records:
        record["ignore_regions"] = [xywh_to_xyxy(b) for b in regions.get(record["image_id"], [])]
    return records


def register_coco_with_ignore(name: str, metadata: dict, json_file: str, image_root: str):
    """Like Detectron2's ``register_coco_instances``, keeping ignore regions (see module doc)."""
    json_file, image_root = os.fspath(json_file), os.fspath(image_root)
    DatasetCatalog.register(name, lambda: load_coco_json_with_ignore(json_file, image_root, name))
    MetadataCatalog.get(name).set(
        json_file=json_file, image_root=image_root, evaluator_type="prnet", **metadata
    )
