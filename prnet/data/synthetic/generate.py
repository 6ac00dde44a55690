"""Rendering whole scenes and writing a split to disk, once.

Layout under ``root``::

    images/<split>/000000.png ...                 RGB PNG, (height, width) = image_size
    annotations/instances_<split>.json            COCO, category ids 1..K

Annotation contract (the prnet convention, see ``prnet.data.datasets.coco``):

* ``bbox`` is the axis-aligned extent of the object's *visible* pixels, measured on a 4x
  supersampled instance map (so it is tight to 0.25 px); ``area`` is ``w * h`` of that box, so
  ``sqrt(area)`` is the object "size" used for the size bins.
* objects less than half visible (hidden by trees or other objects, or cut by the image border)
  are kept as ``"iscrowd": 1`` boxes (ignored by the evaluator, dropped from training targets);
  fully hidden objects are not annotated. ``"visibility"`` records the visible fraction.
* ``images[i]["ignore_regions"] = [[x, y, w, h], ...]``: 1-2 rectangles per image filled with
  dense unlabelled objects (a crowd, packed parking, a mix). No labelled object overlaps one.

Density: labelled objects per image ~ U(40, 160) * (H * W / 320**2), clipped to [20, 200], so a
320x320 image holds 40-160 objects and small test images still hold at least 20.

Every image is drawn from ``numpy.random.default_rng((seed, index))``: the same seed gives
byte-identical PNGs and json (with the same numpy and OpenCV versions), and an image does not
depend on how many images are generated. The json records the parameters and the generator
version, so a split on disk is reused exactly when it would be regenerated identically.
"""

from __future__ import annotations

import json
import os
import re

import cv2
import numpy as np
from tqdm import tqdm

from . import layout, terrain
from .scene import Scene
from .sprites import SYNTHETIC_CLASSES

_VERSION = 2  # bump whenever the rendered output changes, so cached datasets are regenerated
DENSITY = (40, 160)  # labelled objects per REF_AREA pixels
COUNT_RANGE = (20, 200)


def render_image(rng: np.random.Generator, height: int, width: int):
    """One scene: (uint8 RGB (H, W, 3), annotations without ids, ignore regions XYWH)."""
    scene = Scene(rng, height, width)
    terrain.fields(scene)
    terrain.water(scene)
    terrain.lots(scene)
    terrain.roads(scene)
    terrain.roofs(scene)
    layout.clutter(scene)
    layout.ignore_regions(scene)
    lo, hi = COUNT_RANGE
    layout.populate(scene, int(np.clip(round(rng.uniform(*DENSITY) * scene.scale), lo, hi)))
    layout.trees(scene)
    anns = scene.annotations()
    for _ in range(5):  # top up on free ground if occlusion left too few labelled objects
        short = lo - sum(1 for a in anns if not a["iscrowd"])
        if short <= 0:
            break
        layout.populate(scene, short, max_overlap=0.0)
        anns = scene.annotations()
    ignore = [
        [float(x0), float(y0), float(x1 - x0), float(y1 - y0)] for x0, y0, x1, y1 in scene.ignore
    ]
    return scene.finish(), anns, ignore


def split_paths(root: str, split: str) -> tuple[str, str]:
    """(json file, image root) of a split."""
    root = os.fspath(root)
    return (
        os.path.join(root, "annotations", f"instances_{split}.json"),
        os.path.join(root, "images", split),
    )


def _is_current(json_path: str, image_dir: str, info: dict) -> bool:
    """True if ``json_path`` was written with exactly these parameters and its images exist."""
    try:
        with open(json_path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return False
    if data.get("info") != info:
        return False
    return all(os.path.isfile(os.path.join(image_dir, im["file_name"])) for im in data["images"])


def generate_synthetic_aerial(
    root: str,
    split: str = "train",
    num_images: int = 200,
    image_size: tuple[int, int] = (320, 320),
    seed: int = 0,
    progress: bool = True,
) -> str:
    """Write ``num_images`` scenes of ``image_size`` = (height, width) and their COCO json.

    Returns the json path. Idempotent: if the json exists, its ``info`` records the same
    parameters and its images exist, nothing is rewritten. The json is written last and
    atomically, so an interrupted run never leaves a json naming missing images.
    """
    if not isinstance(split, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", split):
        raise ValueError(f"split must be a simple name like 'train', got {split!r}")
    if not isinstance(num_images, (int, np.integer)) or num_images < 1:
        raise ValueError(f"num_images must be a positive integer, got {num_images!r}")
    if len(image_size) != 2 or min(int(v) for v in image_size) < 64:
        raise ValueError(f"image_size must be (height, width) with both >= 64, got {image_size!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    height, width = (int(v) for v in image_size)
    json_path, image_dir = split_paths(root, split)
    info = {
        "description": "prnet built-in synthetic aerial dataset",
        "generator": "prnet.data.synthetic",
        "version": _VERSION,
        "split": split,
        "num_images": int(num_images),
        "image_size": [height, width],
        "seed": int(seed),
    }
    if _is_current(json_path, image_dir, info):
        return json_path
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(os.path.dirname(json_path), exist_ok=True)
    indices = range(int(num_images))
    if progress and num_images > 8:
        indices = tqdm(indices, desc=f"synthetic_aerial {split}", unit="img")
    images, annotations = [], []
    for i in indices:
        img, anns, ignore = render_image(np.random.default_rng([int(seed), i]), height, width)
        name = f"{i:06d}.png"
        path = os.path.join(image_dir, name)
        if not cv2.imwrite(path, np.ascontiguousarray(img[..., ::-1])):
            raise OSError(f"could not write image {path}")
        images.append(
            {
                "id": i + 1,
                "file_name": name,
                "height": height,
                "width": width,
                "ignore_regions": ignore,
            }
        )
        for a in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, **a})
    data = {
        "info": info,
        "licenses": [],
        "categories": [
            {"id": k + 1, "name": n, "supercategory": "object"}
            for k, n in enumerate(SYNTHETIC_CLASSES)
        ],
        "images": images,
        "annotations": annotations,
    }
    tmp = f"{json_path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, separators=(",", ":"))
    os.replace(tmp, json_path)
    return json_path
