"""Statistics of a COCO json: how many objects, of which classes and sizes, per image.

Used to check that a generated split keeps the intended character (mostly tiny objects, tens
per image); it reads any COCO json, not only synthetic ones.
"""

from __future__ import annotations

import json
import math

import numpy as np

_SIZE_BINS = (
    ("<8", 0.0, 8.0),
    ("8-16", 8.0, 16.0),
    ("16-32", 16.0, 32.0),
    (">=32", 32.0, math.inf),
)


def summarize(json_path: str) -> dict:
    """Counts of a COCO json: per class, per size bin (size = sqrt(w * h)), per image.

    Crowd (ignored) boxes are counted apart and left out of the other statistics.
    """
    with open(json_path, encoding="utf-8") as f:
        data = json.load(f)
    names = {c["id"]: c["name"] for c in data["categories"]}
    per_class = {n: 0 for n in names.values()}
    per_image = {im["id"]: 0 for im in data["images"]}
    sizes, crowd = [], 0
    for a in data["annotations"]:
        if a.get("iscrowd", 0):
            crowd += 1
            continue
        per_class[names[a["category_id"]]] += 1
        per_image[a["image_id"]] += 1
        sizes.append(math.sqrt(a["bbox"][2] * a["bbox"][3]))
    sizes = np.asarray(sizes, np.float64)
    counts = np.asarray(list(per_image.values()) or [0])
    n = max(sizes.size, 1)
    return {
        "num_images": len(data["images"]),
        "num_objects": int(sizes.size),
        "num_crowd": crowd,
        "num_ignore_regions": sum(len(im.get("ignore_regions", [])) for im in data["images"]),
        "objects_per_image": {
            "min": int(counts.min()),
            "mean": float(counts.mean()),
            "max": int(counts.max()),
        },
        "per_class": per_class,
        "size_bins": {k: int(((sizes >= lo) & (sizes < hi)).sum()) for k, lo, hi in _SIZE_BINS},
        "fraction_under_12": float((sizes < 12).sum() / n),
        "fraction_4_to_32": float(((sizes >= 4) & (sizes <= 32)).sum() / n),
    }
