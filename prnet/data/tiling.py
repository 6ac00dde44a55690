"""Offline slicing of a registered dataset into overlapping tiles at native resolution.

Sliced inference (:class:`prnet.inference.SlicedPredictor`) shows the model 640 px tiles of a
4000 px frame, so a 10 px object stays 10 px; a model trained on whole frames shrunk to 640 has
seen it at 1.6 px. :func:`slice_dataset` cuts every image of a registered dataset with the same
tile grid (:func:`prnet.inference.slicing.tile_grid`), writes the tiles and one COCO json, and
registers the result, so training sees objects at the scale sliced inference will.

Boxes cut by a tile border follow the minimum box rule of training augmentation
(:func:`prnet.data.augment.filter_boxes`: clipped, kept when at least ``min_size`` px wide and
high and ``min_visible`` of their area inside). Crowd boxes (``iscrowd=1``) and ignore regions
are clipped and kept while any of them is inside. Tiles without a box are kept at the fraction
``keep_empty`` (drawn with ``seed``).

The json is an ordinary COCO file (ignore regions on the image entries, see
:mod:`prnet.data.datasets.coco`); its ``info["prnet_tiles"]`` records the source, the grid and
the class metadata, which :func:`register_sliced_dataset` reads to register it again in another
process (``sliced_dataset_dicts`` does the same from a config).
"""

from __future__ import annotations

import json
import logging
import os

import cv2
import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from prnet.data import augment as A
from prnet.data.datasets.coco import register_coco_with_ignore
from prnet.data.image_io import read_image_rgb

__all__ = ["slice_dataset", "register_sliced_dataset", "sliced_dataset_dicts", "tile_targets"]

#: metadata keys that describe the source's files, not its classes (the id map is the json's:
#: Detectron2's loader sets it from the categories written)
_FILE_KEYS = {"name", "json_file", "image_root", "evaluator_type"}
_FILE_KEYS |= {"thing_dataset_id_to_contiguous_id"}
JPEG_QUALITY = 95


def tile_targets(boxes, tile, min_size=A.MIN_BOX_SIZE, min_visible=A.MIN_VISIBLE, crowd=None):
    """Boxes of an image in the frame of ``tile=(x0, y0, x1, y1)``: ``(boxes, keep)``.

    ``boxes`` are XYXY_ABS in the image; the result is shifted and clipped to the tile, and
    ``keep`` is the minimum box rule (for ``crowd`` boxes: any area left), as at the mosaic's
    borders.
    """
    x0, y0, x1, y1 = tile
    moved = A.transform_boxes(boxes, np.array([[1.0, 0, -x0], [0, 1.0, -y0]]))
    clipped = A.clip_boxes(moved, x1 - x0, y1 - y0)
    keep = A.filter_boxes(moved, clipped, min_size, min_visible)
    if crowd is not None:
        nonempty = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
        keep = np.where(np.asarray(crowd, bool), nonempty, keep)
    return clipped, keep


def _xywh(box) -> list[float]:
    x0, y0, x1, y1 = (round(float(v), 2) for v in box)
    return [x0, y0, round(x1 - x0, 2), round(y1 - y0, 2)]


def _categories(metadata, records) -> tuple[list[dict], dict[int, int]]:
    """COCO categories with the source's dataset ids (or 1..K) and contiguous -> dataset id."""
    classes = list(metadata.get("thing_classes", []))
    if not classes:
        ids = [a["category_id"] for r in records for a in r.get("annotations", [])]
        classes = [str(i) for i in range(1 + max(ids, default=0))]
    id_map = metadata.get("thing_dataset_id_to_contiguous_id")
    id_map = id_map or {i + 1: i for i in range(len(classes))}
    to_dataset = {int(c): int(d) for d, c in id_map.items()}
    cats = [{"id": to_dataset[i], "name": name} for i, name in enumerate(classes)]
    return sorted(cats, key=lambda c: c["id"]), to_dataset


def _write_image(path: str, image_rgb: np.ndarray) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if path.endswith(".jpg") else []
    if not cv2.imwrite(path, np.ascontiguousarray(image_rgb[:, :, ::-1]), params):
        raise OSError(f"could not write the tile image {path}")


def slice_dataset(
    name: str,
    output_dir: str | os.PathLike,
    tile_size: int = 640,
    overlap: float = 0.2,
    *,
    new_name: str | None = None,
    keep_empty: float = 1.0,
    image_format: str | None = None,
    min_size: float = A.MIN_BOX_SIZE,
    min_visible: float = A.MIN_VISIBLE,
    seed: int = 0,
    progress: bool = True,
) -> str:
    """Cut every image of the registered dataset ``name`` into tiles; returns the new name.

    Writes ``<output_dir>/images/*`` and ``<output_dir>/<new name>.json`` and registers the new
    dataset (default ``<name>_tiles``; an existing registration of that name is replaced) with the
    source's class metadata. ``image_format``: ``"jpg"`` (quality 95) or ``"png"``; default the
    source's (JPEG stays JPEG, anything else becomes PNG).
    """
    if not 0 <= keep_empty <= 1:
        raise ValueError(f"keep_empty must be in [0, 1], got {keep_empty}")
    if image_format not in (None, "jpg", "png"):
        raise ValueError(f"image_format must be 'jpg' or 'png', got {image_format!r}")
    new_name = new_name or f"{name}_tiles"
    if name not in DatasetCatalog.list():
        raise KeyError(
            f"dataset {name!r} is not registered; register it first (e.g. "
            "prnet.data.register_coco_with_ignore) or pick one of DatasetCatalog.list()"
        )
    records = DatasetCatalog.get(name)
    metadata = MetadataCatalog.get(name).as_dict()
    categories, to_dataset = _categories(metadata, records)
    output_dir = os.fspath(output_dir)
    os.makedirs(os.path.join(output_dir, "images"), exist_ok=True)
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    from tqdm import tqdm

    # sliced inference's own grid; imported here so that prnet.data does not load prnet.inference
    from prnet.inference.slicing import tile_grid

    bar = tqdm(records, desc=f"slice {name}", unit="img", disable=not progress)
    for index, record in enumerate(bar):
        image = read_image_rgb(record["file_name"])
        h, w = image.shape[:2]
        annos = record.get("annotations", [])
        boxes = np.array(
            [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in annos],
            np.float32,
        ).reshape(-1, 4)
        crowd = np.array([bool(a.get("iscrowd", 0)) for a in annos], bool)
        ignore = A.clip_boxes(record.get("ignore_regions"), w, h)
        stem, ext = os.path.splitext(os.path.basename(record["file_name"]))
        fmt = image_format or ("jpg" if ext.lower() in (".jpg", ".jpeg") else "png")
        for tile in tile_grid(h, w, tile_size, overlap):
            clipped, keep = tile_targets(boxes, tile, min_size, min_visible, crowd)
            if not (keep & ~crowd).any() and rng.random() >= keep_empty:
                continue
            x0, y0, x1, y1 = tile
            regions, _ = tile_targets(ignore, tile, crowd=np.ones(len(ignore), bool))
            regions = regions[(regions[:, 2] > regions[:, 0]) & (regions[:, 3] > regions[:, 1])]
            file_name = f"{index:06d}_{stem}_x{x0}_y{y0}.{fmt}"
            _write_image(os.path.join(output_dir, "images", file_name), image[y0:y1, x0:x1])
            image_id = len(images) + 1
            images.append({
                "id": image_id, "file_name": file_name, "width": x1 - x0, "height": y1 - y0,
                "ignore_regions": [_xywh(r) for r in regions],
                "source_file": record["file_name"], "source_image_id": record.get("image_id"),
                "tile": [x0, y0, x1, y1],
            })  # fmt: skip
            for j in np.flatnonzero(keep):
                box = _xywh(clipped[j])
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id, "bbox": box,
                    "category_id": to_dataset[int(annos[j]["category_id"])],
                    "area": round(box[2] * box[3], 2), "iscrowd": int(crowd[j]),
                })  # fmt: skip
    classes = {k: v for k, v in metadata.items() if k not in _FILE_KEYS}
    info = {"prnet_tiles": {
        "name": new_name, "source": name, "tile_size": tile_size, "overlap": overlap,
        "keep_empty": keep_empty, "min_size": min_size, "min_visible": min_visible,
        "metadata": json.loads(json.dumps(classes, default=str)),
    }}  # fmt: skip
    json_file = os.path.join(output_dir, f"{new_name}.json")
    with open(json_file, "w") as f:
        json.dump({"info": info, "images": images, "annotations": annotations,
                   "categories": categories}, f)  # fmt: skip
    empty = len(images) - len({a["image_id"] for a in annotations if not a["iscrowd"]})
    logging.getLogger("prnet").info(
        f"{name}: {len(records)} images cut into {len(images)} tiles of {tile_size} px "
        f"({empty} without objects), {len(annotations)} boxes; wrote {json_file}"
    )
    return register_sliced_dataset(json_file)


def register_sliced_dataset(json_file: str | os.PathLike, name: str | None = None) -> str:
    """Register a json written by :func:`slice_dataset` (in any process); returns its name.

    The name and class metadata come from the json's ``info["prnet_tiles"]`` unless ``name`` is
    given; an existing registration of that name is replaced.
    """
    json_file = os.fspath(json_file)
    with open(json_file) as f:
        info = json.load(f).get("info", {}).get("prnet_tiles")
    if info is None:
        raise ValueError(
            f"{json_file}: expected a json written by prnet.data.slice_dataset (info.prnet_tiles)"
        )
    name = name or info["name"]
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    image_root = os.path.join(os.path.dirname(json_file), "images")
    register_coco_with_ignore(name, info["metadata"], json_file, image_root)
    return name


def sliced_dataset_dicts(json_file: str, name: str | None = None) -> list[dict]:
    """The records of a sliced dataset, registering it first (for ``dataloader.train.dataset`` in a
    config: ``L(sliced_dataset_dicts)(json_file=...)``)."""
    return DatasetCatalog.get(register_sliced_dataset(json_file, name))
