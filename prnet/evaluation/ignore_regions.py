"""Drop ground truth and detections that lie mostly inside an image's ignore regions.

The VisDrone toolkit (and prnet's ``uavdt`` and ``synthetic`` presets) removes every ground-truth
box and every detection with at least half of its area inside the union of the image's ignore
regions before matching. Two ways to measure that fraction (``EvalPreset.ignore_rule``):

* ``exact`` (``covered_fraction``): box geometry. The region edges cut the plane into a grid of
  cells, each cell is either fully inside the union or fully outside, and a box's covered area is
  the sum of its overlaps with the covered cells. This is exact for real-valued boxes and equals an
  ideal pixel raster (a region ``[x, y, w, h]`` covering w x h pixels) for boxes on integer pixel
  edges.
* ``visdrone_raster`` (``visdrone_raster_fraction``): what the official VisDrone toolkit's
  dropObjectsInIgr computes on its pixel mask and integral image. Its raster is not the ideal one:
  a region ``[x, y, w, h]`` (each value raised to at least 1) marks the (w + 1) x (h + 1) pixels
  from pixel ``(x, y)`` (1-based), i.e. the area ``[x - 1, x + w) x [y - 1, y + h)`` in box
  coordinates, one pixel larger on its left and top sides (a region at x = 0 or y = 0 grows on
  its right or bottom side instead); a box's values are rounded half away from zero and raised to
  at least 1, the covered pixels are counted inside ``[x, x + w) x [y, y + h)`` clipped to the
  image, and divided by the rounded ``w * h`` (parts outside the image count as not covered). The
  two rules agree far from the threshold; a box within about a pixel of 50 % coverage along a
  region's left or top edge can be kept by one and dropped by the other.

The toolkit reads integer regions from the annotation files; non-integer regions (which it cannot
index) are rounded here like boxes. Images without ``width``/``height`` are not clipped.

Known difference from the toolkit with ``visdrone_raster``, from the inputs rather than the rule:
prnet's VisDrone converter clips regions and ground truth to the image (and drops boxes with
w or h <= 0), so a region starting left of or above the image covers less here (the toolkit
raises its x and y to 1 but keeps its w and h) and a ground-truth box reaching out of the image
is measured on its clipped part.

Ignore regions are read from the ground-truth json: ``images[i]["ignore_regions"] = [[x, y, w, h],
...]`` (see ``prnet.data.datasets.coco``).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

__all__ = ["IGNORE_RULES", "covered_fraction", "drop_ignored", "visdrone_raster_fraction"]

IGNORE_RULES = ("exact", "visdrone_raster")


def _as_xywh(boxes, what: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{what} must be an (N, 4) array of [x, y, w, h], got shape {arr.shape}")
    return arr


def _covered_area(boxes: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """(N,) exact area of each (N, 4) XYWH box inside the union of the (K, 4) XYWH regions."""
    regions = regions[(regions[:, 2] > 0) & (regions[:, 3] > 0)]
    if len(boxes) == 0 or len(regions) == 0:
        return np.zeros(len(boxes))
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
    return np.einsum("nx,xy,ny->n", np.clip(ox, 0, None), covered, np.clip(oy, 0, None))


def covered_fraction(boxes, regions) -> np.ndarray:
    """Fraction of each box's area inside the union of ``regions`` (the ``exact`` rule).

    Args:
        boxes: (N, 4) XYWH_ABS.
        regions: (K, 4) XYWH_ABS; they may overlap (overlaps are not counted twice).

    Returns:
        (N,) float64 in [0, 1]; 0 for boxes with no area.
    """
    boxes = _as_xywh(boxes, "boxes")
    regions = _as_xywh(regions, "regions")
    out = np.zeros(len(boxes))
    inside = _covered_area(boxes, regions)
    area = boxes[:, 2] * boxes[:, 3]
    np.divide(inside, area, out=out, where=area > 0)
    return np.clip(out, 0.0, 1.0)


def _matlab_round(values: np.ndarray) -> np.ndarray:
    """MATLAB's ``round``: halves away from zero (numpy rounds them to even)."""
    a = np.abs(values)
    whole = np.floor(a)
    return np.sign(values) * (whole + (a - whole >= 0.5))


def visdrone_raster_fraction(boxes, regions, width=None, height=None) -> np.ndarray:
    """Fraction of each box inside the regions as the official VisDrone toolkit measures it.

    The ``visdrone_raster`` rule (see the module docstring): the toolkit's pixel mask and integral
    image, reproduced exactly with integer box geometry.

    Args:
        boxes: (N, 4) XYWH_ABS.
        regions: (K, 4) XYWH_ABS, integers in VisDrone annotations.
        width, height: the image size in pixels; None: no clipping on that side.

    Returns:
        (N,) float64 in [0, 1] (the toolkit's ratio, which can fall below the covered share of
        the box's in-image part when the box leaves the image).
    """
    boxes = _as_xywh(boxes, "boxes")
    regions = _as_xywh(regions, "regions")
    x_max = np.inf if width is None else float(width)
    y_max = np.inf if height is None else float(height)
    # Regions: values raised to >= 1; pixels x..x+w (1-based, clipped to the image) are
    # [x - 1, min(W, x + w)) in box coordinates, likewise rows.
    r = np.maximum(1.0, _matlab_round(regions))
    grown = np.stack(
        [
            r[:, 0] - 1,
            r[:, 1] - 1,
            np.minimum(x_max, r[:, 0] + r[:, 2]) - (r[:, 0] - 1),
            np.minimum(y_max, r[:, 1] + r[:, 3]) - (r[:, 1] - 1),
        ],
        axis=1,
    ).reshape(-1, 4)
    # Boxes: rounded, raised to >= 1, counted over [x, x + w) x [y, y + h) clipped to the image,
    # divided by the rounded w * h.
    b = np.maximum(1.0, _matlab_round(boxes))
    x0, y0 = np.minimum(x_max, b[:, 0]), np.minimum(y_max, b[:, 1])
    clipped = np.stack(
        [x0, y0, np.minimum(x_max, x0 + b[:, 2]) - x0, np.minimum(y_max, y0 + b[:, 3]) - y0],
        axis=1,
    ).reshape(-1, 4)
    return np.clip(_covered_area(clipped, grown) / (b[:, 2] * b[:, 3]), 0.0, 1.0)


def drop_ignored(
    dataset: dict, results: list[dict], min_coverage: float = 0.5, rule: str = "exact"
) -> tuple[dict, list[dict]]:
    """Remove annotations and results covered ``>= min_coverage`` by their image's regions.

    Args:
        dataset: a COCO ground-truth dict; images may carry ``ignore_regions`` (XYWH).
        results: COCO results (``image_id``, ``category_id``, ``bbox`` XYWH, ``score``).
        min_coverage: the covered fraction from which a box is dropped.
        rule: ``exact`` (``covered_fraction``) or ``visdrone_raster``
            (``visdrone_raster_fraction``, clipped to the images' ``width``/``height``).

    Returns:
        ``(dataset, results)``: a shallow copy of ``dataset`` with the kept annotations and the
        kept results (inputs are not modified).
    """
    if rule not in IGNORE_RULES:
        raise ValueError(f"ignore rule must be one of {IGNORE_RULES}, got {rule!r}")
    images = {img["id"]: img for img in dataset["images"]}
    regions = {image_id: img.get("ignore_regions") or [] for image_id, img in images.items()}

    def fraction(boxes, image_id):
        if rule == "exact":
            return covered_fraction(boxes, regions[image_id])
        img = images[image_id]
        return visdrone_raster_fraction(
            boxes, regions[image_id], img.get("width"), img.get("height")
        )

    def keep(items: list[dict]) -> list[dict]:
        by_image = defaultdict(list)
        for i, item in enumerate(items):
            by_image[item["image_id"]].append(i)
        kept = np.ones(len(items), dtype=bool)
        for image_id, idx in by_image.items():
            if not regions.get(image_id):
                continue
            frac = fraction([items[i]["bbox"] for i in idx], image_id)
            kept[np.asarray(idx)[frac >= min_coverage]] = False
        return [item for item, k in zip(items, kept) if k]

    dataset = dict(dataset, annotations=keep(dataset.get("annotations", [])))
    return dataset, keep(results)
