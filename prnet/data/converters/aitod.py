"""AI-TOD (v1, v2) COCO json -> validated COCO json with the canonical category ids.

AI-TOD is distributed as COCO json (Wang et al., "Tiny Object Detection in Aerial Images", ICPR
2020; v2: Xu et al., "Detecting tiny objects in aerial images: A normalized Wasserstein distance and
a new benchmark", ISPRS J. 2022). The converter checks what a training run would otherwise trip
over late: every category is one of the 8 AI-TOD classes (matched by name, so source ids may differ;
output ids are 1..8 in :data:`AITOD_CLASSES` order, always all 8 so that every split maps to the
same contiguous ids), every annotation refers to a known image and category, boxes lie inside their
image (clipped and counted otherwise), images exist and have the size the json states.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

from .common import (
    ConversionError,
    ConversionReport,
    Progress,
    clip_xywh,
    coco_categories,
    image_size,
)

__all__ = [
    "AITOD_CLASSES",
    "AITOD_SOURCE_JSON",
    "AITOD_SPLITS",
    "canonical_aitod_class",
    "convert_aitod",
    "find_aitod_source_json",
]

AITOD_CLASSES = (
    "airplane",
    "bridge",
    "storage-tank",
    "ship",
    "swimming-pool",
    "vehicle",
    "person",
    "wind-mill",
)
AITOD_SPLITS = ("train", "val", "trainval", "test")
# Names under which the official annotation files are distributed (first found wins).
AITOD_SOURCE_JSON = {
    "v1": {
        "train": ("aitod_training_v1.json", "aitod_train_v1.json"),
        "val": ("aitod_validation_v1.json", "aitod_val_v1.json"),
        "trainval": ("aitod_trainval_v1.json",),
        "test": ("aitod_test_v1.json",),
    },
    "v2": {
        "train": ("aitodv2_train.json", "aitodv2_training.json", "aitod_train_v2.json"),
        "val": ("aitodv2_val.json", "aitodv2_validation.json", "aitod_val_v2.json"),
        "trainval": ("aitodv2_trainval.json", "aitod_trainval_v2.json"),
        "test": ("aitodv2_test.json", "aitod_test_v2.json"),
    },
}
_KEY = {re.sub(r"[^a-z0-9]", "", name): name for name in AITOD_CLASSES}


def canonical_aitod_class(name: str) -> str | None:
    """The AI-TOD class a category name denotes ("Storage_Tank" -> "storage-tank"), else None."""
    return _KEY.get(re.sub(r"[^a-z0-9]", "", str(name).lower()))


def find_aitod_source_json(annotations_dir: str | os.PathLike, version: str, split: str) -> Path:
    """The official json of ``split`` in ``annotations_dir`` (see :data:`AITOD_SOURCE_JSON`)."""
    if version not in AITOD_SOURCE_JSON or split not in AITOD_SPLITS:
        raise ValueError(f"unknown AI-TOD version/split {version!r}/{split!r}")
    annotations_dir = Path(annotations_dir)
    candidates = AITOD_SOURCE_JSON[version][split]
    for name in candidates:
        if (annotations_dir / name).is_file():
            return annotations_dir / name
    present = (
        sorted(p.name for p in annotations_dir.glob("*.json")) if annotations_dir.is_dir() else []
    )
    raise ConversionError(
        f"no AI-TOD {version} {split} json; looked for {', '.join(candidates)}; "
        f"found: {', '.join(present) or 'no json files'}",
        annotations_dir,
    )


def _load(json_file: Path) -> dict:
    try:
        with open(json_file, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError as e:
        raise ConversionError("annotation file not found", json_file) from e
    except json.JSONDecodeError as e:
        raise ConversionError(
            f"invalid json: {e.msg} (column {e.colno})", json_file, e.lineno
        ) from e
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise ConversionError(
            "expected a COCO object with lists 'images', 'annotations' and 'categories'", json_file
        )
    return data


def _category_map(categories: list, json_file: Path) -> dict:
    id_map = {}
    for i, cat in enumerate(categories):
        canonical = canonical_aitod_class(cat.get("name", "")) if isinstance(cat, dict) else None
        if canonical is None or "id" not in cat:
            raise ConversionError(
                f"categories[{i}] = {cat!r}: expected an id and one of the names {AITOD_CLASSES}",
                json_file,
            )
        if cat["id"] in id_map:
            raise ConversionError(f"categories[{i}]: category id {cat['id']} repeated", json_file)
        id_map[cat["id"]] = AITOD_CLASSES.index(canonical) + 1
    return id_map


def _positive_int(value, what: str, json_file: Path) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value != int(value)
        or value <= 0
    ):
        raise ConversionError(f"{what}: expected a positive integer, got {value!r}", json_file)
    return int(value)


def _check_images(
    images: list, image_root: Path, json_file: Path, check_images: bool, report, progress
) -> dict:
    """Image id -> output image entry, for the images that exist (if checked)."""
    seen, kept = set(), {}
    items = list(enumerate(images))
    if progress is not None:
        items = progress(items, desc=f"AI-TOD {json_file.name}", unit="img")
    for i, img in items:
        where = f"images[{i}]"
        if (
            not isinstance(img, dict)
            or "id" not in img
            or not isinstance(img.get("file_name"), str)
        ):
            raise ConversionError(f"{where} = {img!r}: expected id and file_name", json_file)
        if img["id"] in seen:
            raise ConversionError(f"{where}: image id {img['id']} repeated", json_file)
        seen.add(img["id"])
        width = _positive_int(img.get("width"), f"{where}.width", json_file)
        height = _positive_int(img.get("height"), f"{where}.height", json_file)
        if check_images:
            path = image_root / img["file_name"]
            try:
                actual = image_size(path)
            except ConversionError as e:
                reason = "missing_image" if "not found" in e.message else "unreadable_image"
                report.issue(reason, path, detail=f"{where} skipped with its annotations")
                continue
            if actual != (width, height):
                report.issue(
                    "size_mismatch",
                    json_file,
                    detail=f"{where} {img['file_name']}: json says "
                    f"{width}x{height}, file is {actual[0]}x{actual[1]}; file size used",
                )
                width, height = actual
        kept[img["id"]] = {
            "id": img["id"],
            "file_name": img["file_name"],
            "width": width,
            "height": height,
        }
        report.count("images")
    return kept


def _bbox(ann: dict, where: str, json_file: Path) -> list[float]:
    box = ann.get("bbox")
    if (
        not isinstance(box, (list, tuple))
        or len(box) != 4
        or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in box)
    ):
        raise ConversionError(
            f"{where}: bbox must be 4 finite numbers [x,y,w,h], got {box!r}", json_file
        )
    return [float(v) for v in box]


def convert_aitod(
    json_file: str | os.PathLike,
    image_root: str | os.PathLike,
    *,
    check_images: bool = True,
    strict: bool = False,
    max_examples: int = 5,
    progress: Progress | None = None,
) -> tuple[dict, ConversionReport]:
    """Validate and normalise one AI-TOD json. Returns ``(coco_dict, report)``.

    Image and annotation ids are kept. ``file_name`` stays relative to ``image_root``. With
    ``check_images`` (default) every image must exist and be readable (headers only); otherwise it
    is skipped with its annotations and counted. Annotations flagged ``"ignore": 1`` become
    ``"iscrowd": 1`` (Detectron2 rejects the "ignore" key).
    """
    json_file, image_root = Path(json_file), Path(image_root)
    if check_images and not image_root.is_dir():
        raise ConversionError("image folder not found", image_root)
    report = ConversionReport(source=os.fspath(json_file), strict=strict, max_examples=max_examples)
    data = _load(json_file)
    id_map = _category_map(data["categories"], json_file)
    images = _check_images(data["images"], image_root, json_file, check_images, report, progress)
    source_image_ids = {img.get("id") for img in data["images"]}
    annotations, seen = [], set()
    for i, ann in enumerate(data["annotations"]):
        where = f"annotations[{i}]"
        if not isinstance(ann, dict) or "id" not in ann:
            raise ConversionError(f"{where} = {ann!r}: expected an object with an id", json_file)
        where = f"annotations[{i}] (id {ann['id']})"
        if ann["id"] in seen:
            raise ConversionError(f"{where}: annotation id repeated", json_file)
        seen.add(ann["id"])
        if ann.get("category_id") not in id_map:
            raise ConversionError(
                f"{where}: category_id {ann.get('category_id')!r} not in the categories", json_file
            )
        box = _bbox(ann, where, json_file)
        image = images.get(ann.get("image_id"))
        if image is None:
            reason = (
                "annotation_of_skipped_image"
                if ann.get("image_id") in source_image_ids
                else ("unknown_image_id")
            )
            report.issue(reason, json_file, detail=f"{where} image_id {ann.get('image_id')!r}")
            continue
        if box[2] <= 0 or box[3] <= 0:
            report.issue("non_positive_size", json_file, detail=f"{where} bbox {box}")
            continue
        clipped_box, clipped = clip_xywh(box, image["width"], image["height"])
        if clipped_box is None:
            report.issue(
                "zero_area_after_clip",
                json_file,
                detail=f"{where} bbox {box} outside " f"{image['width']}x{image['height']} image",
            )
            continue
        if clipped:
            report.issue(
                "clipped_box",
                json_file,
                detail=f"{where} bbox {box} clipped to "
                f"{image['width']}x{image['height']} image",
            )
        area = ann.get("area")
        if clipped or not isinstance(area, (int, float)) or not math.isfinite(area) or area <= 0:
            area = clipped_box[2] * clipped_box[3]
        iscrowd = 1 if ann.get("iscrowd", 0) or ann.get("ignore", 0) else 0
        if ann.get("ignore", 0) and not ann.get("iscrowd", 0):
            report.count("ignore_flag_to_iscrowd")
        category_id = id_map[ann["category_id"]]
        annotations.append(
            {
                "id": ann["id"],
                "image_id": image["id"],
                "category_id": category_id,
                "bbox": clipped_box,
                "area": float(area),
                "iscrowd": iscrowd,
            }
        )
        report.count("annotations")
        report.count(f"class/{AITOD_CLASSES[category_id - 1]}")
    coco = {
        "info": {"description": f"AI-TOD (validated by prnet from {json_file.name})"},
        "images": list(images.values()),
        "annotations": annotations,
        "categories": coco_categories(AITOD_CLASSES),
    }
    return coco, report
