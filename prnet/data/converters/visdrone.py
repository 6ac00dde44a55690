"""VisDrone2019-DET official txt annotations -> one COCO json per split.

Input (one ``<name>.txt`` per ``<name>.jpg``), rows ``x,y,w,h,score,category,truncation,occlusion``
in absolute pixels (CRLF or LF, possibly a trailing comma, blank lines or an empty file):

* categories 1-10 become json category ids 1..10 (contiguous 0-9 in the model);
* score-0 rows of categories 1-10 are "ignored boxes": annotations with ``"iscrowd": 1``;
* category 0 rows ("ignored regions") become ``images[i]["ignore_regions"]`` (XYWH);
* category 11 ("others") is not trained or scored: dropped, counted in the report.

Image sizes come from the image headers. See :mod:`prnet.data.converters.common` for the error and
report conventions and :mod:`prnet.data.datasets.coco` for the ignore conventions.
"""

from __future__ import annotations

import os
from pathlib import Path

from .common import (
    ConversionError,
    ConversionReport,
    Progress,
    clip_xywh,
    coco_categories,
    image_size,
    iter_numeric_rows,
)

__all__ = [
    "VISDRONE_CLASSES",
    "VISDRONE_COLUMNS",
    "VISDRONE_SPLITS",
    "convert_visdrone",
    "convert_visdrone_split",
]

# json category ids 1..10 in this order; 0 = ignored region, 11 = others (both not classes)
VISDRONE_CLASSES = (
    "pedestrian",
    "people",
    "bicycle",
    "car",
    "van",
    "truck",
    "tricycle",
    "awning-tricycle",
    "bus",
    "motor",
)
VISDRONE_COLUMNS = ("x", "y", "w", "h", "score", "category", "truncation", "occlusion")
# split -> folder of the official archive, each holding images/ and annotations/
VISDRONE_SPLITS = {
    "train": "VisDrone2019-DET-train",
    "val": "VisDrone2019-DET-val",
    "test-dev": "VisDrone2019-DET-test-dev",
}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
_IGNORED_REGION, _OTHERS = 0, 11


def _require_dir(path: Path) -> None:
    if not path.is_dir():
        raise ConversionError("folder not found", path)


def _as_int(value: float, name: str, path: Path, line: int) -> int:
    if value != int(value):
        raise ConversionError(f"field {name!r} must be an integer, got {value:g}", path, line)
    return int(value)


def _index_images(images_dir: Path) -> dict[str, Path]:
    images: dict[str, Path] = {}
    for p in sorted(images_dir.iterdir()):
        if p.suffix.lower() not in IMAGE_EXTENSIONS or not p.is_file():
            continue
        if p.stem in images:
            raise ConversionError(f"two images share the name {p.stem!r}: {images[p.stem].name}", p)
        images[p.stem] = p
    return images


def convert_visdrone(
    images_dir: str | os.PathLike,
    annotations_dir: str | os.PathLike,
    *,
    strict: bool = False,
    max_examples: int = 5,
    progress: Progress | None = None,
) -> tuple[dict, ConversionReport]:
    """Convert one VisDrone-DET split. Returns ``(coco_dict, report)``.

    ``file_name`` in the json is relative to ``images_dir``. Image and annotation ids are 1-based in
    file-name order, so reruns give identical files. Pairs with a missing or unreadable image, and
    images without an annotation file, are skipped and counted (errors if ``strict``).
    """
    images_dir, annotations_dir = Path(images_dir), Path(annotations_dir)
    _require_dir(images_dir)
    _require_dir(annotations_dir)
    report = ConversionReport(
        source=os.fspath(annotations_dir), strict=strict, max_examples=max_examples
    )
    images = _index_images(images_dir)
    annotation_files = {p.stem: p for p in sorted(annotations_dir.glob("*.txt"))}
    for stem in sorted(set(images) - set(annotation_files)):
        report.issue("missing_annotation_file", images[stem], detail="image skipped")
    pairs = []
    for stem, ann_path in annotation_files.items():
        if stem in images:
            pairs.append((images[stem], ann_path))
        else:
            report.issue("missing_image", ann_path, detail=f"no {stem}.jpg in {images_dir}")
    if progress is not None:
        pairs = progress(pairs, desc=f"VisDrone {images_dir.parent.name}", unit="img")

    coco = {
        "info": {"description": "VisDrone2019-DET (converted by prnet)"},
        "images": [],
        "annotations": [],
        "categories": coco_categories(VISDRONE_CLASSES),
    }
    for image_path, ann_path in pairs:
        rows = list(iter_numeric_rows(ann_path, VISDRONE_COLUMNS))
        try:
            width, height = image_size(image_path)
        except ConversionError as e:
            report.issue("unreadable_image", image_path, detail=e.message)
            continue
        image_id = len(coco["images"]) + 1
        regions: list[list[float]] = []
        if not rows:
            report.count("empty_annotation_files")
        for line, (x, y, w, h, score, category, truncation, occlusion) in rows:
            score_i = _as_int(score, "score", ann_path, line)
            category_i = _as_int(category, "category", ann_path, line)
            if score_i not in (0, 1):
                raise ConversionError(f"score must be 0 or 1, got {score_i}", ann_path, line)
            if not 0 <= category_i <= 11:
                raise ConversionError(
                    f"category must be in 0..11, got {category_i}", ann_path, line
                )
            if category_i == _OTHERS:
                report.drop("category_11_others", ann_path, line)
                continue
            if w <= 0 or h <= 0:
                report.issue("non_positive_size", ann_path, line, f"w={w:g} h={h:g}")
                continue
            box, clipped = clip_xywh((x, y, w, h), width, height)
            if box is None:
                report.issue(
                    "zero_area_after_clip",
                    ann_path,
                    line,
                    f"{x:g},{y:g},{w:g},{h:g} outside " f"{width}x{height} image",
                )
                continue
            if clipped:
                report.issue(
                    "clipped_box",
                    ann_path,
                    line,
                    f"{x:g},{y:g},{w:g},{h:g} clipped to " f"{width}x{height} image",
                )
            if category_i == _IGNORED_REGION:
                regions.append(box)
                report.count("ignore_regions")
                continue
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": category_i,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 1 - score_i,
                    "truncation": _as_int(truncation, "truncation", ann_path, line),
                    "occlusion": _as_int(occlusion, "occlusion", ann_path, line),
                }
            )
            report.count("annotations")
            report.count("annotations_iscrowd (score 0)" if score_i == 0 else "annotations_scored")
            report.count(f"class/{VISDRONE_CLASSES[category_i - 1]}")
        coco["images"].append(
            {
                "id": image_id,
                "file_name": image_path.relative_to(images_dir).as_posix(),
                "width": width,
                "height": height,
                "ignore_regions": regions,
            }
        )
        report.count("images")
    return coco, report


def convert_visdrone_split(
    root: str | os.PathLike, split: str, **kwargs
) -> tuple[dict, ConversionReport]:
    """:func:`convert_visdrone` on ``<root>/VisDrone2019-DET-<split>/{images,annotations}``."""
    if split not in VISDRONE_SPLITS:
        raise ValueError(
            f"unknown VisDrone split {split!r}; expected one of {list(VISDRONE_SPLITS)}"
        )
    split_dir = Path(root) / VISDRONE_SPLITS[split]
    return convert_visdrone(split_dir / "images", split_dir / "annotations", **kwargs)
