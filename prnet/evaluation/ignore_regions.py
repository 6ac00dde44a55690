"""Drop ground truth and detections that lie mostly inside an image's ignore regions.

The VisDrone toolkit (and prnet's ``uavdt`` preset) removes every ground-truth box and every
detection with at least half of its area inside the union of the image's ignore regions before
matching. The toolkit measures this on a rasterised pixel mask; prnet computes the same quantity
exactly with box geometry: the region edges cut the plane into a grid of cells, each cell is
either fully inside the union or fully outside, and a box's covered area is the sum of its
overlaps with the covered cells. This is exact for real-valued boxes and equals the raster value
for boxes on integer pixel edges; a box that straddles pixel boundaries can differ from the
toolkit by its rounding (at most a pixel row or column), which only matters at exactly 50 %.

Ignore regions are read from the ground-truth json: ``images[i]["ignore_regions"] = [[x, y, w, h],
...]`` (see ``prnet.data.datasets.coco``).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

__all__ = ["covered_fraction", "drop_ignored"]


def _as_xywh(boxes, what: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{what} must be an (N, 4) array of [x, y, w, h], got shape {arr.shape}")
    return arr


def covered_fraction(boxes, regions) -> np.ndarray:
    """Fraction of each box's area inside the union of ``regions``.

    Args:
        boxes: (N, 4) XYWH_ABS.
        regions: (K, 4) XYWH_ABS; they may overlap (overlaps are not counted twice).

    Returns:
        (N,) float64 in [0, 1]; 0 for boxes with no area.
    """
    boxes = _as_xywh(boxes, "boxes")
    regions = _as_xywh(regions, "regions")
    regions = regions[(regions[:, 2] > 0) & (regions[:, 3] > 0)]
    out = np.zeros(len(boxes))
    if len(boxes) == 0 or len(regions) == 0:
        return out
    rx0, ry0 = regions[:, 0], regions[:, 1]
    rx1, ry1 = rx0 + regions[:, 2], ry0 + regions[:, 3]
    xs = np.unique(np.concatenate([rx0, rx1]))
    ys = np.unique(np.concatenate([ry0, ry1]))
    # A cell lies inside the union iff its centre lies inside some region (cells never straddle
    # a region edge, because every edge is a grid line).
    cx = (xs[:-1] + xs[1:]) / 2
    cy = (ys[:-1] + ys[1:]) / 2
    in_x = (cx[None, :] > rx0[:, None]) & (cx[None, :] < rx1[:, None])  # (K, X)
    in_y = (cy[None, :] > ry0[:, None]) & (cy[None, :] < ry1[:, None])  # (K, Y)
    covered = (in_x[:, :, None] & in_y[:, None, :]).any(axis=0).astype(np.float64)  # (X, Y)

    bx0, by0 = boxes[:, 0], boxes[:, 1]
    bx1, by1 = bx0 + boxes[:, 2], by0 + boxes[:, 3]
    ox = np.minimum(bx1[:, None], xs[None, 1:]) - np.maximum(bx0[:, None], xs[None, :-1])
    oy = np.minimum(by1[:, None], ys[None, 1:]) - np.maximum(by0[:, None], ys[None, :-1])
    inside = np.einsum("nx,xy,ny->n", np.clip(ox, 0, None), covered, np.clip(oy, 0, None))
    area = boxes[:, 2] * boxes[:, 3]
    np.divide(inside, area, out=out, where=area > 0)
    return np.clip(out, 0.0, 1.0)


def drop_ignored(
    dataset: dict, results: list[dict], min_coverage: float = 0.5
) -> tuple[dict, list[dict]]:
    """Remove annotations and results with ``covered_fraction >= min_coverage``.

    Args:
        dataset: a COCO ground-truth dict; images may carry ``ignore_regions`` (XYWH).
        results: COCO results (``image_id``, ``category_id``, ``bbox`` XYWH, ``score``).

    Returns:
        ``(dataset, results)``: a shallow copy of ``dataset`` with the kept annotations and the
        kept results (inputs are not modified).
    """
    regions = {img["id"]: img.get("ignore_regions") or [] for img in dataset["images"]}

    def keep(items: list[dict]) -> list[dict]:
        by_image = defaultdict(list)
        for i, item in enumerate(items):
            by_image[item["image_id"]].append(i)
        kept = np.ones(len(items), dtype=bool)
        for image_id, idx in by_image.items():
            if not regions.get(image_id):
                continue
            frac = covered_fraction([items[i]["bbox"] for i in idx], regions[image_id])
            kept[np.asarray(idx)[frac >= min_coverage]] = False
        return [item for item, k in zip(items, kept) if k]

    dataset = dict(dataset, annotations=keep(dataset.get("annotations", [])))
    return dataset, keep(results)
