"""Built-in synthetic aerial dataset: many tiny objects on textured top-down scenes, no download.

Why: ``make demo`` must train and evaluate PRNet on a fresh machine without fetching data. The
scenes are hard in the ways aerial data is hard (objects of 4-32 px, 40 % or more under 12 px,
shadows, occlusion, clutter that looks like objects, ignore regions) yet learnable: the classes
differ by shape and colour pattern, never by single-pixel details, and labels are exact.

Classes (json ids 1..7), each with random rotation, brightness and colour within its palette:

1. pedestrian: round blob in a bright clothing colour with a dark head in the middle (4-8 px)
2. cyclist: thin dark bar with wheel ends and a coloured rider in the middle (5-12 px long)
3. car: rounded box in a car colour with a dark windshield band and a dark rear window
4. truck: elongated; coloured cab with windshield, dark hitch, ribbed cargo box of another colour
5. boat: pointed hull with a coloured deck, only on water
6. storage-tank: light disc with a dark rim, a shaded inner roof and a dark centre vent
7. airplane: cross of a fuselage, swept wings and a tail plane, light grey

Scene: Voronoi field parcels with ploughing stripes and hedgerows, rivers or ponds, roads with
sidewalks and lane marks, parking lots with stripes, buildings with gable roofs, shadows cast
along one sun direction, ground clutter (bushes, rocks, stains, paint, containers, pools, rooftop
units), trees drawn over the objects, then cloud shadow, illumination ramp, colour cast, blur
and sensor noise. Vehicles on roads and lots follow the road / parking direction.

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
depend on how many images are generated.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "DEFAULT_SPLITS",
    "SYNTHETIC_CLASSES",
    "SYNTHETIC_PROTOCOL",
    "default_root",
    "generate_synthetic_aerial",
    "register_synthetic_aerial",
    "summarize",
]

SYNTHETIC_CLASSES: tuple[str, ...] = (
    "pedestrian",
    "cyclist",
    "car",
    "truck",
    "boat",
    "storage-tank",
    "airplane",
)

#: Evaluation preset named in the metadata: COCO AP with the ignore-region filter (detections
#: of the unlabelled objects inside ignore regions must not count as false positives).
SYNTHETIC_PROTOCOL = "synthetic"

#: Registered by ``register_synthetic_aerial()`` when no ``splits`` are given.
DEFAULT_SPLITS: dict[str, dict] = {
    "synthetic_aerial_train": {"split": "train", "num_images": 250, "seed": 0},
    "synthetic_aerial_val": {"split": "val", "num_images": 50, "seed": 1},
    # `make demo` trains on smaller scenes from the same generator: objects keep their pixel sizes
    # and the density per pixel is the same or higher, so a 2-core CPU sees more objects per second.
    "synthetic_aerial_demo_train": {
        "split": "demo_train", "num_images": 600, "image_size": (128, 128), "seed": 10,
    },
}

_VERSION = 2  # bump whenever the rendered output changes, so cached datasets are regenerated
_SS = 4  # supersampling of object sprites and of the instance map
_REF_AREA = 320 * 320
_DENSITY = (40, 160)  # labelled objects per _REF_AREA pixels
_COUNT_RANGE = (20, 200)
_MIN_VISIBLE = 0.5  # below this visible fraction an object becomes an iscrowd box
_FIELD, _ROAD, _LOT, _WATER, _ROOF = range(5)  # ground types

# Class frequencies (boats only where there is water) and where each class may stand.
_CLASS_WEIGHTS = np.array([0.22, 0.13, 0.29, 0.1, 0.1, 0.08, 0.08])
_CLASS_GROUND = {
    0: (_LOT, _FIELD, _ROAD),
    1: (_ROAD, _LOT),
    2: (_ROAD, _LOT),
    3: (_ROAD, _LOT),
    4: (_WATER,),
    5: (_LOT, _FIELD),
    6: (_LOT, _FIELD),
}
_GROUP = {  # probability of a group, max extra members, spacing in object sizes
    0: (0.4, 3, 1.2),
    1: (0.2, 2, 1.4),
    2: (0.35, 4, 0.75),
    3: (0.15, 2, 0.5),
    4: (0.2, 2, 0.9),
    5: (0.6, 5, 1.25),
    6: (0.1, 1, 1.3),
}

_rgb = functools.partial(np.array, dtype=np.float32)
_CAR_COLORS = _rgb(
    [
        [235, 235, 232],
        [176, 179, 184],
        [38, 38, 42],
        [178, 32, 30],
        [34, 62, 150],
        [86, 88, 92],
        [205, 192, 160],
        [20, 110, 160],
    ]
)
_TRUCK_CAB = _rgb([[200, 40, 35], [35, 70, 160], [235, 235, 230], [230, 190, 40], [40, 120, 70]])
_TRUCK_BOX = _rgb([[225, 225, 222], [190, 192, 196], [220, 120, 40], [90, 110, 140], [200, 60, 50]])
_CLOTHES = _rgb(
    [
        [210, 40, 40],
        [40, 80, 200],
        [240, 240, 240],
        [235, 200, 40],
        [240, 130, 30],
        [190, 50, 170],
        [40, 190, 210],
    ]
)
_HULL = _rgb([[240, 240, 238], [235, 235, 235], [180, 40, 40], [40, 70, 140], [60, 60, 65]])
_DECK = _rgb([[60, 110, 190], [150, 110, 70], [120, 125, 130], [210, 210, 205], [200, 150, 40]])
_PLANE = _rgb([[240, 240, 242], [215, 218, 222], [200, 205, 210]])
_PLANE_TAIL = _rgb([[200, 40, 40], [40, 70, 170], [240, 240, 242], [230, 150, 30]])
_TANK = _rgb([[225, 225, 222], [200, 202, 205], [215, 210, 190], [190, 205, 195]])
_FIELD_COLORS = _rgb(
    [
        [96, 128, 62],
        [122, 142, 70],
        [150, 140, 88],
        [170, 150, 100],
        [120, 100, 70],
        [80, 112, 58],
        [182, 170, 112],
        [110, 125, 90],
    ]
)
_ROOF_COLORS = _rgb(
    [[170, 80, 60], [150, 70, 55], [110, 110, 115], [70, 75, 85], [190, 180, 160], [200, 200, 195]]
)
_GREENS = _rgb([[40, 80, 35], [55, 95, 40], [35, 70, 40], [70, 100, 45]])
_DARK = _rgb([28, 32, 40])


# ---------------------------------------------------------------------------------------------
# Geometry and sprites
# ---------------------------------------------------------------------------------------------
_CIRCLES = {
    n: np.stack([np.cos(t), np.sin(t)], 1)
    for n in range(10, 33)
    for t in [np.linspace(0.0, 2 * np.pi, n, endpoint=False)]
}


def _ellipse(a: float, b: float, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    """Polygon (n, 2) of an ellipse with semi-axes a (along x) and b (along y)."""
    return _CIRCLES[min(max(int(3 * max(a, b)), 10), 32)] * (a, b) + (cx, cy)


def _rect(x0: float, x1: float, w: float, cy: float = 0.0) -> np.ndarray:
    """Rectangle from x0 to x1 along the object's length, lateral width w centred at cy."""
    h = w / 2
    return np.array([[x0, cy - h], [x1, cy - h], [x1, cy + h], [x0, cy + h]])


def _chamfer(ln: float, w: float, c: float) -> np.ndarray:
    """Centred ln x w (length x width) rectangle with cut corners (car and truck bodies)."""
    a, b = ln / 2, w / 2
    return np.array(
        [
            [-a + c, -b],
            [a - c, -b],
            [a, -b + c],
            [a, b - c],
            [a - c, b],
            [-a + c, b],
            [-a, b - c],
            [-a, -b + c],
        ]
    )


@dataclass
class _Sprite:
    """One rendered object: 1x coverage and colour plus the 4x mask used for the instance map.

    ``alpha`` (h, w) and ``color`` (h, w, 3, premultiplied) are float32; ``shadow`` (h, w) or
    None; ``mask`` (h*SS, w*SS) bool, None where no instance map is painted; ``lo`` is the patch
    origin relative to ``floor(centre)``.
    """

    alpha: np.ndarray
    color: np.ndarray
    shadow: np.ndarray | None
    mask: np.ndarray | None
    lo: tuple[int, int]
    extent: tuple[int, int, int, int]  # object (not shadow) box in patch pixels, x0 y0 x1 y1


def _render(parts, frac, angle: float, shadow=None, need_mask: bool = True) -> _Sprite:
    """Rasterise ``parts`` = [(polygon in object frame, rgb)] rotated by ``angle`` at 4x.

    The object frame has x forward; ``frac`` is the sub-pixel part of the world centre; the
    shadow is the object's coverage swept along the 2-vector ``shadow`` (ground shadow of a
    prism), at 1x since shadows are soft anyway. Colours outside 0..255 saturate in cv2.
    """
    c, s = math.cos(angle), math.sin(angle)
    pts = np.concatenate([p for p, _ in parts]) @ np.array([[c, s], [-s, c]])
    # bounds in plain Python: these arrays are tiny and numpy calls dominate the cost
    (ox0, oy0), (ox1, oy1) = (pts.min(0) + frac).tolist(), (pts.max(0) + frac).tolist()
    sx, sy = (0.0, 0.0) if shadow is None else (float(shadow[0]), float(shadow[1]))
    lx, ly = math.floor(min(ox0, ox0 + sx)) - 1, math.floor(min(oy0, oy0 + sy)) - 1
    w = math.ceil(max(ox1, ox1 + sx)) + 1 - lx
    h = math.ceil(max(oy1, oy1 + sy)) + 1 - ly
    # world -> cv2 pixel-centre coordinates at 4x, with 2 fractional bits (shift=2)
    off = np.array([frac[0] - lx - 0.5 / _SS, frac[1] - ly - 0.5 / _SS])
    q = np.rint((pts + off) * (_SS * 4)).astype(np.int32)
    canvas = np.zeros((h * _SS, w * _SS, 4), np.uint8)  # RGB + coverage
    start = 0
    for poly, rgb in parts:
        n = len(poly)
        cv2.fillPoly(canvas, [q[start : start + n]], (*rgb.tolist(), 255), cv2.LINE_8, 2)
        start += n
    small = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = small[..., 3] * (1 / 255)
    sh = None
    if shadow is not None:  # sweep = dilation with a line from the anchor back along -shadow
        dx, dy = round(sx), round(sy)
        kernel = np.zeros((abs(dy) + 1, abs(dx) + 1), np.uint8)
        ax, ay = max(dx, 0), max(dy, 0)
        cv2.line(kernel, (ax, ay), (ax - dx, ay - dy), 1)
        sh = cv2.dilate(
            alpha, kernel, anchor=(ax, ay), borderType=cv2.BORDER_CONSTANT, borderValue=0
        )
    lo = (lx, ly)
    # object extent, conservative by one 4x pixel: cv2 fills boundary pixels inclusively
    m = 1 / _SS
    ex0, ey0 = math.floor(ox0 - m) - lx, math.floor(oy0 - m) - ly
    ex1, ey1 = math.ceil(ox1 + m) - lx, math.ceil(oy1 + m) - ly
    mask = canvas[..., 3] > 0 if need_mask else None
    return _Sprite(alpha, small[..., :3], sh, mask, lo, (ex0, ey0, ex1, ey1))


def _jitter(rng, rgb, spread: float = 12.0) -> np.ndarray:
    return rgb + rng.normal(0, spread, 3)


def _pick(rng, palette) -> np.ndarray:
    return _jitter(rng, palette[rng.integers(len(palette))])


# Class designs: each returns (parts, height) at size scale g; parts use the object frame.
def _pedestrian(rng, g):
    s = rng.uniform(5.0, 7.5) * g
    parts = [
        (_ellipse(0.35 * s, 0.5 * s), _pick(rng, _CLOTHES)),
        (_ellipse(0.19 * s, 0.19 * s, 0.03 * s), _jitter(rng, _rgb([40, 30, 25]), 8)),
    ]
    return parts, 1.8 * s


def _cyclist(rng, g):
    ln = rng.uniform(6.5, 10.5) * g
    dark = _jitter(rng, _rgb([35, 35, 38]), 6)
    parts = [
        (_rect(-0.5 * ln, 0.5 * ln, 0.13 * ln), dark),
        (_ellipse(0.18 * ln, 0.08 * ln, -0.3 * ln), dark),
        (_ellipse(0.18 * ln, 0.08 * ln, 0.3 * ln), dark),
        (_ellipse(0.13 * ln, 0.21 * ln, -0.04 * ln), _pick(rng, _CLOTHES)),
        (_ellipse(0.07 * ln, 0.07 * ln, -0.02 * ln), _jitter(rng, _rgb([40, 30, 25]), 6)),
    ]
    return parts, 0.3 * ln


def _car(rng, g):
    ln = rng.uniform(8.5, 14.0) * g
    w = ln * rng.uniform(0.46, 0.53)
    glass = _jitter(rng, _DARK, 6)
    parts = [
        (_chamfer(ln, w, 0.2 * w), _pick(rng, _CAR_COLORS)),
        (
            np.array(
                [
                    [0.08 * ln, -0.42 * w],
                    [0.27 * ln, -0.36 * w],
                    [0.27 * ln, 0.36 * w],
                    [0.08 * ln, 0.42 * w],
                ]
            ),
            glass,
        ),
        (_rect(-0.38 * ln, -0.27 * ln, 0.74 * w), glass),
    ]
    return parts, 0.33 * ln


def _truck(rng, g):
    ln = rng.uniform(17.0, 31.0) * g
    w = ln * rng.uniform(0.28, 0.34)
    cab, box = _pick(rng, _TRUCK_CAB), _pick(rng, _TRUCK_BOX)
    parts = [
        (_rect(0.25 * ln, 0.31 * ln, 0.4 * w), _jitter(rng, _DARK, 6)),  # hitch
        (_chamfer(0.2 * ln, w * 0.94, 0.15 * w) + [0.4 * ln, 0.0], cab),
        (_rect(-0.5 * ln, 0.26 * ln, w), box),
        (_rect(0.36 * ln, 0.44 * ln, 0.8 * w), _jitter(rng, _DARK, 6)),  # windshield
    ]
    for x in np.arange(-0.38, 0.2, 0.12):  # ribs of the cargo box
        parts.append((_rect(x * ln, x * ln + 0.025 * ln, w), box * 0.82))
    return parts, 0.28 * ln


def _boat(rng, g):
    ln = math.exp(rng.uniform(math.log(9.0), math.log(34.0))) * g
    w = ln * rng.uniform(0.3, 0.4)
    hull = np.array(
        [
            [-0.5 * ln, -0.42 * w],
            [0.12 * ln, -0.5 * w],
            [0.5 * ln, 0.0],
            [0.12 * ln, 0.5 * w],
            [-0.5 * ln, 0.42 * w],
        ]
    )
    parts = [
        (hull, _pick(rng, _HULL)),
        (_chamfer(0.34 * ln, 0.55 * w, 0.1 * w) - [0.12 * ln, 0], _pick(rng, _DECK)),
    ]
    return parts, 0.15 * ln


def _tank(rng, g):
    r = rng.uniform(3.5, 12.0) * g
    roof = _pick(rng, _TANK)
    parts = [
        (_ellipse(r, r), _jitter(rng, _rgb([95, 95, 98]), 8)),
        (_ellipse(0.84 * r, 0.84 * r), roof),
        (_ellipse(0.55 * r, 0.55 * r, 0.12 * r, 0.12 * r), roof * 0.86),
        (_ellipse(0.14 * r, 0.14 * r), _jitter(rng, _rgb([70, 70, 72]), 6)),
    ]
    return parts, 1.4 * r


def _airplane(rng, g):
    ln = rng.uniform(12.5, 30.0) * g
    span = ln * rng.uniform(0.85, 1.05)
    body = _pick(rng, _PLANE)
    wing = np.array(
        [
            [0.16 * ln, 0.0],
            [-0.1 * ln, 0.5 * span],
            [-0.18 * ln, 0.5 * span],
            [-0.08 * ln, 0.0],
            [-0.18 * ln, -0.5 * span],
            [-0.1 * ln, -0.5 * span],
        ]
    )
    tail = np.array(
        [
            [-0.34 * ln, 0.0],
            [-0.44 * ln, 0.18 * span],
            [-0.49 * ln, 0.18 * span],
            [-0.46 * ln, 0.0],
            [-0.49 * ln, -0.18 * span],
            [-0.44 * ln, -0.18 * span],
        ]
    )
    parts = [
        (wing, body * 0.93),
        (tail, _pick(rng, _PLANE_TAIL)),
        (_ellipse(0.5 * ln, 0.065 * ln), body),
    ]
    return parts, 0.2 * ln


_BUILDERS = (_pedestrian, _cyclist, _car, _truck, _boat, _tank, _airplane)


def _crown(rng, g, scale: float = 1.0):
    """Lumpy tree or bush crown: a few overlapping greens."""
    r = rng.uniform(3.0, 9.0) * g * scale
    base = _pick(rng, _GREENS)
    parts = [(_ellipse(r, r * rng.uniform(0.8, 1.0)), base * 0.8)]
    for _ in range(rng.integers(2, 5)):
        off = rng.normal(0, 0.35 * r, 2)
        rr = r * rng.uniform(0.45, 0.7)
        parts.append((_ellipse(rr, rr, *off), base * rng.uniform(0.9, 1.25)))
    return parts, 2.0 * r


def _clutter(rng, g, kind: str):
    """Object-like but unlabelled things: ground-level decoys for the detector."""
    if kind == "bush":
        return _crown(rng, g, 0.45)
    if kind == "rock":
        r = rng.uniform(1.2, 3.0) * g
        t = np.sort(rng.uniform(0, 2 * np.pi, 6))
        poly = np.stack([np.cos(t), np.sin(t)], 1) * r * rng.uniform(0.6, 1.0, (6, 1))
        return [(poly, _jitter(rng, _rgb([130, 122, 110]), 20))], 0.5 * r
    if kind == "stain":
        r = rng.uniform(1.0, 3.0) * g
        return [(_ellipse(r, r * 0.7), _jitter(rng, _rgb([45, 45, 48]), 6))], None
    if kind == "paint":
        ln = rng.uniform(3.0, 6.0) * g
        return [(_rect(-ln / 2, ln / 2, 1.2 * g), _jitter(rng, _rgb([225, 225, 215]), 8))], None
    if kind == "container":  # long plain box with ribs: no windshield, no cab
        ln = rng.uniform(9.0, 16.0) * g
        col = _jitter(rng, _rgb([[130, 80, 50], [60, 90, 70], [150, 140, 120]][rng.integers(3)]))
        parts = [(_rect(-ln / 2, ln / 2, 0.36 * ln), col)]
        parts += [(_rect(x * ln, x * ln + 0.05 * ln, 0.36 * ln), col * 0.7) for x in (-0.3, 0, 0.3)]
        return parts, 0.2 * ln
    if kind == "pool":
        ln = rng.uniform(6.0, 14.0) * g
        return [
            (_rect(-ln / 2, ln / 2, 0.6 * ln), _rgb([230, 230, 225])),
            (
                _rect(-ln / 2 + 0.8, ln / 2 - 0.8, 0.6 * ln - 1.6),
                _jitter(rng, _rgb([60, 170, 200])),
            ),
        ], None
    # "ac": rooftop unit
    a = rng.uniform(1.5, 3.0) * g
    return [
        (_rect(-a, a, 1.6 * a), _jitter(rng, _rgb([200, 202, 205]), 10)),
        (_ellipse(0.45 * a, 0.45 * a), _rgb([70, 70, 75])),
    ], 0.6 * a


# ---------------------------------------------------------------------------------------------
# Scene
# ---------------------------------------------------------------------------------------------
def _noise(rng, h: int, w: int, cell: int) -> np.ndarray:
    """Smooth unit-variance noise (h, w) with features about ``cell`` pixels wide."""
    small = rng.standard_normal((h // cell + 2, w // cell + 2)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _poly_coverage(shape, polys, shift: int = 3) -> tuple[np.ndarray, tuple[slice, slice]]:
    """Anti-aliased coverage in [0, 1] of world polygons (list or (n, k, 2) array), on their
    bounding patch of ``shape``; returns (coverage, patch slices)."""
    pts = np.concatenate(polys) if isinstance(polys, list) else polys.reshape(-1, 2)
    x0, y0 = np.maximum(np.floor(pts.min(0)).astype(int) - 1, 0).tolist()
    x1, y1 = np.minimum(np.ceil(pts.max(0)).astype(int) + 2, [shape[1], shape[0]]).tolist()
    m = np.zeros((max(y1 - y0, 1), max(x1 - x0, 1)), np.uint8)
    off = np.array([x0 + 0.5, y0 + 0.5])
    q = [np.rint((p - off) * (1 << shift)).astype(np.int32) for p in polys]
    cv2.fillPoly(m, q, 255, cv2.LINE_AA, shift)
    return m.astype(np.float32) * (1 / 255), (slice(y0, y1), slice(x0, x1))


def _union_coverage(shape, groups, shift: int = 3) -> np.ndarray:
    """Full-image anti-aliased coverage of the union of polygon groups ((n, k, 2) arrays).

    One ``fillPoly`` call per group: within a call cv2 fills overlaps even-odd, so groups whose
    polygons overlap (crossing roads) must come in separate calls.
    """
    m = np.zeros(shape, np.uint8)
    for polys in groups:
        q = np.rint((polys - 0.5) * (1 << shift)).astype(np.int32)
        cv2.fillPoly(m, list(q), 255, cv2.LINE_AA, shift)
    return m.astype(np.float32) * (1 / 255)


def _box_poly(cx, cy, ln, w, angle) -> np.ndarray:
    """Corners (4, 2) of an ln x w (length x width) box centred at (cx, cy); (n, 4, 2) if cx, cy are arrays."""
    c, s = math.cos(angle), math.sin(angle)
    local = np.array([[-ln, -w], [ln, -w], [ln, w], [-ln, w]]) / 2 @ np.array([[c, s], [-s, c]])
    centre = np.stack([np.asarray(cx, np.float64), np.asarray(cy, np.float64)], -1)
    return local + centre[..., None, :]


class _Scene:
    """Draws one image and its annotations; every random draw comes from ``rng``."""

    def __init__(self, rng: np.random.Generator, height: int, width: int):
        self.rng, self.h, self.w = rng, height, width
        self.scale = height * width / _REF_AREA
        self.g = rng.uniform(0.85, 1.3)  # ground sampling distance: object size multiplier
        sun = rng.uniform(0, 2 * np.pi)
        self.sun = np.array([math.cos(sun), math.sin(sun)]) * rng.uniform(0.3, 0.8)
        self.shadow_k = rng.uniform(0.3, 0.55)
        self.img = np.zeros((height, width, 3), np.float32)
        self.ground = np.full((height, width), _FIELD, np.uint8)
        self.angle = np.zeros((height, width), np.float32)  # road / parking direction
        self.occupied = np.zeros((height, width), bool)
        self.ids = np.zeros((height * _SS, width * _SS), np.int16)
        self.ignore: list[tuple[int, int, int, int]] = []  # x0, y0, x1, y1
        self.objects: list[tuple[int, int, int, _Sprite]] = []  # class, x0, y0, sprite
        self._cands: dict[tuple, np.ndarray] = {}

    def _n(self, lo: float, hi: float) -> int:
        return round(self.rng.uniform(lo, hi) * self.scale)

    def _blend(self, cov, sl, color, opacity: float = 1.0):
        """Alpha-blend ``color`` (rgb or per-pixel (h, w, 3)) with coverage ``cov`` into ``sl``."""
        a = cov * np.float32(opacity) if opacity != 1.0 else cov
        if np.ndim(color) == 3:
            col = np.ascontiguousarray(color, np.float32)
        else:
            col = np.empty(cov.shape + (3,), np.float32)
            col[:] = color
        self.img[sl] = cv2.blendLinear(self.img[sl], col, 1 - a, a)

    # -- background ---------------------------------------------------------------------------
    def fields(self):
        """Straight-edged parcels (Voronoi cells) with ploughing stripes, texture, hedgerows."""
        rng, h, w = self.rng, self.h, self.w
        k = int(rng.integers(4, 10))
        seeds = (rng.uniform(0, 1, (k, 2)) * [w, h]).astype(np.float32)
        xs, ys = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
        d = (xs - seeds[:, :1])[:, None, :] ** 2 + (ys - seeds[:, 1:])[:, :, None] ** 2
        label = d.argmin(0).astype(np.uint8)  # nearest seed

        def lut(values) -> np.ndarray:  # per-parcel values -> per-pixel map
            return cv2.LUT(label, np.resize(np.asarray(values, np.float32), 256))

        colors = np.array([_pick(rng, _FIELD_COLORS) for _ in range(k)], np.float32)
        ang, period = rng.uniform(0, np.pi, k), rng.uniform(3.0, 9.0, k)
        amp = rng.uniform(0, 14, k) * (rng.random(k) < 0.7)
        fx, fy = lut(np.cos(ang) * 2 * np.pi / period), lut(np.sin(ang) * 2 * np.pi / period)
        stripes = lut(amp) * np.sin(fx * xs + fy * ys[:, None])
        texture = 10 * _noise(rng, h, w, 24) + 5 * _noise(rng, h, w, 3) + stripes
        self.img[:] = cv2.merge([lut(colors[:, i]) + texture for i in range(3)])
        edge = np.zeros((h, w), np.uint8)  # hedgerows between parcels
        edge[:, 1:] |= label[:, 1:] != label[:, :-1]
        edge[1:, :] |= label[1:, :] != label[:-1, :]
        edge = cv2.dilate(edge, np.ones((2, 2), np.uint8)).astype(np.float32)
        self._blend(edge, np.s_[:, :], _GREENS[0], 0.6)

    def water(self):
        """Half of the scenes get a river (random walk) or a pond."""
        rng, h, w = self.rng, self.h, self.w
        if rng.random() > 0.5:
            return
        m = np.zeros((h, w), np.uint8)
        if rng.random() < 0.6:  # river: random walk across the image
            p = (
                np.array([rng.uniform(0, w), -20.0])
                if rng.random() < 0.5
                else np.array([-20.0, rng.uniform(0, h)])
            )
            a = math.atan2(h / 2 - p[1], w / 2 - p[0])
            pts = [p.copy()]
            while -40 <= p[0] <= w + 40 and -40 <= p[1] <= h + 40 and len(pts) < 100:
                a += rng.normal(0, 0.25)
                p = p + 15 * np.array([math.cos(a), math.sin(a)])
                pts.append(p.copy())
            thick = int(rng.uniform(24, 60) * self.g)
            cv2.polylines(m, [np.round(np.array(pts)).astype(np.int32)], False, 1, thick)
        else:
            c = (int(rng.uniform(0.2, 0.8) * w), int(rng.uniform(0.2, 0.8) * h))
            axes = (int(rng.uniform(0.12, 0.3) * w), int(rng.uniform(0.12, 0.3) * h))
            cv2.ellipse(m, c, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        soft = cv2.GaussianBlur(m.astype(np.float32), (0, 0), 1.0)
        color = _jitter(rng, _rgb([45, 80, 95]), 8) + 8 * _noise(rng, h, w, 30)[..., None]
        color = color + 3 * _noise(rng, h, w, 2)[..., None]
        self.img[:] = self.img * (1 - soft[..., None]) + soft[..., None] * color
        self.ground[m > 0] = _WATER

    def lots(self):
        """Concrete parking lots with stripes; vehicles on them park along the stripes."""
        rng = self.rng
        for _ in range(self._n(0.5, 3.0)):
            cx, cy = rng.uniform(0, self.w), rng.uniform(0, self.h)
            ln, wd, a = rng.uniform(40, 110), rng.uniform(30, 80), rng.uniform(0, np.pi)
            cov, sl = _poly_coverage(self.ground.shape, [_box_poly(cx, cy, ln, wd, a)])
            self._blend(cov, sl, _jitter(rng, _rgb([165, 163, 158]), 12))
            self.img[sl] += (4 * rng.standard_normal(cov.shape) * cov)[..., None]
            inside = cov > 0.5
            self.ground[sl][inside] = _LOT
            self.angle[sl][inside] = a + np.pi / 2
            # parking stripes: cars park parallel to them
            c, s = math.cos(a), math.sin(a)
            step = rng.uniform(7.5, 9.5) * self.g
            t = np.repeat(np.arange(-ln / 2 + step, ln / 2, step), 2)
            side = np.tile([-wd / 4, wd / 4], t.size // 2)
            stripes = _box_poly(cx + t * c - side * s, cy + t * s + side * c, 0.9, wd * 0.35, a)
            if t.size:
                scov, ssl = _poly_coverage(self.ground.shape, stripes)
                self._blend(scov * (self.ground[ssl] == _LOT), ssl, _rgb([225, 225, 215]), 0.8)

    def roads(self):
        """1-3 straight roads with sidewalks and a dashed centre line (drawn in layers)."""
        rng, h, w = self.rng, self.h, self.w
        length, reach = 3 * (w + h), h + w
        roads = []
        for i in range(int(rng.integers(1, 4))):
            cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
            a = np.pi / 2 * rng.integers(2) + rng.normal(0, 0.3) if i < 2 else rng.uniform(0, np.pi)
            roads.append((cx, cy, rng.uniform(11, 20) * self.g, a))
        layers = {"walk": [], "road": [], "dash": []}
        for cx, cy, width, a in roads:
            c, s = math.cos(a), math.sin(a)
            t = np.arange(-reach, reach, 9.0)
            layers["walk"].append(_box_poly(cx, cy, length, width + 6, a)[None])
            layers["road"].append(_box_poly(cx, cy, length, width, a)[None])
            layers["dash"].append(_box_poly(cx + t * c, cy + t * s, 4.0, 1.0, a))
        full = np.s_[:, :]
        walk = _union_coverage(self.ground.shape, layers["walk"])
        self._blend(walk, full, _jitter(rng, _rgb([170, 168, 160]), 8))
        self.ground[walk > 0.5] = _LOT
        road = _union_coverage(self.ground.shape, layers["road"])
        tone = _jitter(rng, _rgb([92, 92, 96]), 8) + 5 * _noise(rng, h, w, 2)[..., None]
        self._blend(road, full, tone)
        self.ground[road > 0.5] = _ROAD
        for (cx, cy, width, a), poly in zip(roads, layers["road"]):  # direction for vehicles
            cov, sl = _poly_coverage(self.ground.shape, list(poly))
            self.angle[sl][cov > 0.5] = a
        dash = _union_coverage(self.ground.shape, layers["dash"])
        self._blend(dash * (self.ground == _ROAD), full, _rgb([225, 225, 210]), 0.8)

    def roofs(self):
        """Buildings: flat or gable roofs with a cast shadow, only on free fields and lots."""
        rng = self.rng
        for _ in range(self._n(4, 24)):
            cx, cy = rng.uniform(0, self.w), rng.uniform(0, self.h)
            ln, wd = rng.uniform(14, 46) * self.g, rng.uniform(10, 28) * self.g
            a = rng.uniform(0, np.pi)
            poly = _box_poly(cx, cy, ln, wd, a)
            cov, sl = _poly_coverage(self.ground.shape, [poly])
            under = self.ground[sl][cov > 0.5]
            if under.size == 0 or np.isin(under, (_ROAD, _WATER, _ROOF)).mean() > 0.02:
                continue
            height = rng.uniform(3, 10) * self.g
            sweep = np.concatenate([poly, poly + height * self.sun]).astype(np.float32)
            scov, ssl = _poly_coverage(self.ground.shape, [cv2.convexHull(sweep)[:, 0]])
            self.img[ssl] *= (1 - self.shadow_k * scov)[..., None]
            color = _pick(rng, _ROOF_COLORS)
            self._blend(cov, sl, color)
            if rng.random() < 0.7:  # gable roof: one half darker, light ridge
                c, s = math.cos(a), math.sin(a)
                n = np.array([-s, c]) * wd / 4
                half, hsl = _poly_coverage(
                    self.ground.shape, [_box_poly(cx + n[0], cy + n[1], ln, wd / 2, a)]
                )
                self._blend(half, hsl, color * 0.78)
                ridge, rsl = _poly_coverage(self.ground.shape, [_box_poly(cx, cy, ln, 0.8, a)])
                self._blend(ridge, rsl, np.clip(color * 1.2, 0, 255), 0.7)
            self.ground[sl][cov > 0.5] = _ROOF

    # -- objects ------------------------------------------------------------------------------
    def _candidates(self, grounds) -> np.ndarray:
        """Flat pixel indices of the given ground types (cached: ground is final by now)."""
        if grounds not in self._cands:
            idx = np.flatnonzero(self._ground_is(grounds))
            if idx.size == 0:
                idx = np.flatnonzero(self._ground_is((_FIELD, _ROAD, _LOT)))
            self._cands[grounds] = idx
        return self._cands[grounds]

    def _ground_is(self, grounds) -> np.ndarray:
        """Boolean map of the pixels whose ground type is in ``grounds`` (a lookup, not isin)."""
        table = np.zeros(256, bool)
        table[list(grounds)] = True
        return table[self.ground]

    def _sprite(self, parts_height, cx, cy, angle, need_mask=True) -> tuple[_Sprite, int, int]:
        parts, height = parts_height
        frac = (cx % 1.0, cy % 1.0)
        shadow = None if height is None else self.sun * height
        sp = _render(parts, frac, angle, shadow, need_mask=need_mask)
        return sp, math.floor(cx) + sp.lo[0], math.floor(cy) + sp.lo[1]

    def _fits(self, sp: _Sprite, x0: int, y0: int, max_overlap: float, region=None) -> bool:
        ex0, ey0, ex1, ey1 = sp.extent
        bx0, by0, bx1, by1 = x0 + ex0, y0 + ey0, x0 + ex1, y0 + ey1
        if region is not None:
            rx0, ry0, rx1, ry1 = region
            if bx0 < rx0 or by0 < ry0 or bx1 > rx1 or by1 > ry1:
                return False
        else:
            for rx0, ry0, rx1, ry1 in self.ignore:
                if bx0 < rx1 and rx0 < bx1 and by0 < ry1 and ry0 < by1:
                    return False
        ya, yb, xa, xb, p = self._clip(sp, x0, y0)
        if ya >= yb or xa >= xb:
            return False
        fp = sp.alpha > 0.05
        overlap = np.count_nonzero(fp[p] & self.occupied[ya:yb, xa:xb])
        return overlap <= max_overlap * max(np.count_nonzero(fp), 1)

    def _paste(self, sp: _Sprite, x0: int, y0: int, instance: int | None = None):
        """Composite shadow then object; paint the 4x instance map (0 = occluder)."""
        ya, yb, xa, xb, p = self._clip(sp, x0, y0)
        if ya >= yb or xa >= xb:
            return
        dst = self.img[ya:yb, xa:xb]
        if sp.shadow is not None:
            dst *= (1 - self.shadow_k * sp.shadow[p])[..., None]
        dst *= 1 - sp.alpha[p][..., None]
        dst += sp.color[p]
        if instance is not None:
            s = _SS
            sub = self.ids[ya * s : yb * s, xa * s : xb * s]
            sub[sp.mask[(ya - y0) * s : (yb - y0) * s, (xa - x0) * s : (xb - x0) * s]] = instance

    def place(
        self,
        cls: int,
        labelled: bool,
        region=None,
        at=None,
        angle=None,
        max_overlap=0.25,
        tries: int = 6,
    ):
        """Try to place one object of class ``cls``; returns (cx, cy, angle, size) or None."""
        rng = self.rng
        cands = None
        for _ in range(tries):
            if at is not None:
                cx, cy = at + rng.normal(0, 0.6, 2)
            elif region is not None:
                cx, cy = rng.uniform(region[0], region[2]), rng.uniform(region[1], region[3])
            else:
                if cands is None:
                    cands = self._candidates(_CLASS_GROUND[cls])
                i = cands[rng.integers(cands.size)]
                cx, cy = i % self.w + rng.random(), i // self.w + rng.random()
            if not (0 <= cx < self.w and 0 <= cy < self.h):
                continue
            iy, ix = int(cy), int(cx)  # cheap rejection before rendering: centre area taken
            if self.occupied[max(iy - 1, 0) : iy + 2, max(ix - 1, 0) : ix + 2].any():
                continue
            if at is not None and self.ground[iy, ix] not in _CLASS_GROUND[cls]:
                continue
            if region is not None and self.ground[iy, ix] in (_WATER, _ROOF):
                continue
            a = angle
            if a is None:
                gy, gx = int(cy), int(cx)
                aligned = cls in (1, 2, 3) and self.ground[gy, gx] in (_ROAD, _LOT)
                a = (
                    self.angle[gy, gx] + np.pi * rng.integers(2) + rng.normal(0, 0.08)
                    if aligned and rng.random() < 0.85
                    else rng.uniform(0, 2 * np.pi)
                )
            parts, height = _BUILDERS[cls](rng, self.g)
            bright = rng.uniform(0.8, 1.2)
            parts = [(poly, rgb * bright) for poly, rgb in parts]
            sp, x0, y0 = self._sprite((parts, height), cx, cy, a, need_mask=labelled)
            if not self._fits(sp, x0, y0, max_overlap, region):
                continue
            self._occupy(sp, x0, y0)
            if labelled:
                self.objects.append((cls, x0, y0, sp))
                self._paste(sp, x0, y0, len(self.objects))
            else:  # inside an ignore region: nothing labelled underneath to occlude
                self._paste(sp, x0, y0)
            ex = sp.extent
            return cx, cy, a, max(ex[2] - ex[0], ex[3] - ex[1])
        return None

    def _clip(self, sp: _Sprite, x0: int, y0: int):
        """Image slices and the matching patch slices of a sprite placed at (x0, y0)."""
        ph, pw = sp.alpha.shape
        ya, yb, xa, xb = max(y0, 0), min(y0 + ph, self.h), max(x0, 0), min(x0 + pw, self.w)
        return ya, yb, xa, xb, np.s_[ya - y0 : yb - y0, xa - x0 : xb - x0]

    def _occupy(self, sp: _Sprite, x0: int, y0: int):
        ya, yb, xa, xb, p = self._clip(sp, x0, y0)
        if ya < yb and xa < xb:
            self.occupied[ya:yb, xa:xb] |= sp.alpha[p] > 0.05

    def ignore_regions(self):
        """1-2 rectangles densely filled with unlabelled objects (a crowd, packed parking)."""
        rng, side = self.rng, min(self.h, self.w)
        for _ in range(int(rng.integers(1, 3))):
            for _ in range(10):
                rw, rh = (rng.uniform(0.12, 0.22, 2) * side).astype(int) + 4
                x0, y0 = int(rng.integers(0, self.w - rw)), int(rng.integers(0, self.h - rh))
                box = (x0, y0, x0 + rw, y0 + rh)
                free = all(
                    box[0] >= b[2] + 4
                    or b[0] >= box[2] + 4
                    or box[1] >= b[3] + 4
                    or b[1] >= box[3] + 4
                    for b in self.ignore
                )
                if free and (self.ground[y0 : y0 + rh, x0 : x0 + rw] == _WATER).mean() < 0.3:
                    break
            else:
                continue
            self.ignore.append(box)
            mode = rng.integers(3)  # 0 crowd, 1 packed parking, 2 mixed
            angle = rng.uniform(0, np.pi) if mode == 1 else None
            for _ in range(int(rw * rh / rng.uniform(80, 140))):
                cls = (0, 2, (0, 1, 2, 3, 5)[rng.integers(5)])[mode]
                a = None if angle is None else angle + np.pi * rng.integers(2)
                self.place(cls, False, region=box, angle=a, max_overlap=0.35, tries=2)

    def populate(self, n: int, max_overlap: float = 0.25) -> int:
        """Place up to ``n`` labelled objects (with small groups); returns how many."""
        rng = self.rng
        weights = _CLASS_WEIGHTS.copy()
        if not (self.ground == _WATER).any():
            weights[4] = 0.0
        cdf = np.cumsum(weights / weights.sum())[:-1]  # cheaper per draw than rng.choice(p=)
        placed = attempts = 0
        while placed < n and attempts < 3 * n:
            attempts += 1
            cls = int(np.searchsorted(cdf, rng.random(), side="right"))
            r = self.place(cls, True, max_overlap=max_overlap)
            if r is None:
                continue
            placed += 1
            p, extra, spacing = _GROUP[cls]
            if rng.random() >= p:
                continue
            cx, cy, a, size = r
            d = a + np.pi / 2 if cls in (2, 3, 4) else rng.uniform(0, 2 * np.pi)
            step = spacing * size * np.array([math.cos(d), math.sin(d)])
            for k in range(1, int(rng.integers(1, extra + 1)) + 1):
                if placed >= n:
                    break
                same = a + rng.normal(0, 0.05) if cls in (2, 3, 4, 5) else None
                at = np.array([cx, cy]) + k * step
                if self.place(cls, True, at=at, angle=same, max_overlap=max_overlap, tries=2):
                    placed += 1
        return placed

    def clutter(self):
        """Ground-level decoys drawn before the objects (bushes, rocks, stains, paint, ...)."""
        rng = self.rng
        kinds = ("bush", "rock", "stain", "paint", "container", "pool", "ac")
        grounds = (
            (_FIELD, _LOT),
            (_FIELD, _LOT),
            (_ROAD, _LOT),
            (_ROAD, _LOT),
            (_FIELD,),
            (_FIELD,),
            (_ROOF,),
        )
        cdf = np.cumsum([0.3, 0.15, 0.13, 0.12, 0.08, 0.05, 0.17])[:-1]
        cands = {}
        for _ in range(self._n(20, 50)):
            k = int(np.searchsorted(cdf, rng.random(), side="right"))
            if k not in cands:
                cands[k] = self._candidates(grounds[k])
            i = cands[k][rng.integers(cands[k].size)]
            cx, cy = i % self.w + rng.random(), i // self.w + rng.random()
            sp, x0, y0 = self._sprite(
                _clutter(rng, self.g, kinds[k]), cx, cy, rng.uniform(0, 2 * np.pi), need_mask=False
            )
            self._paste(sp, x0, y0)

    def trees(self):
        """Tree crowns drawn over the objects: the main source of partial occlusion."""
        rng = self.rng
        road = (self.ground == _ROAD).astype(np.uint8)
        verge = (cv2.dilate(road, np.ones((9, 9), np.uint8)) > 0) & self._ground_is((_FIELD, _LOT))
        verge_idx, field_idx = np.flatnonzero(verge), self._candidates((_FIELD,))
        for _ in range(self._n(3, 14)):
            idx = verge_idx if verge_idx.size and rng.random() < 0.6 else field_idx
            i = idx[rng.integers(idx.size)]
            centre = np.array([i % self.w, i // self.w], np.float64)
            for _ in range(int(rng.integers(1, 5))):
                cx, cy = centre + rng.normal(0, 5 * self.g, 2)
                sp, x0, y0 = self._sprite(_crown(rng, self.g), cx, cy, 0.0)
                self._occupy(sp, x0, y0)
                self._paste(sp, x0, y0, 0)

    def finish(self) -> np.ndarray:
        """Camera and atmosphere: cloud shadow, illumination, colour cast, blur, noise."""
        rng, h, w = self.rng, self.h, self.w
        img = self.img
        if rng.random() < 0.3:
            cloud = np.clip(1.5 * _noise(rng, h, w, 80) - 0.5, 0, 1)
            img *= (1 - 0.3 * cloud)[..., None]
        a = rng.uniform(0, 2 * np.pi)
        xs = (np.arange(w, dtype=np.float32) - w / 2) * (math.cos(a) / max(h, w))
        ys = (np.arange(h, dtype=np.float32) - h / 2) * (math.sin(a) / max(h, w))
        ramp = xs + ys[:, None]
        img *= (1 + rng.uniform(0, 0.25) * ramp)[..., None]
        img *= (rng.uniform(0.93, 1.07, 3) * rng.uniform(0.85, 1.15)).astype(np.float32)
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.6))
        # sensor noise: uniform bytes are much cheaper to draw than normals; alike at this level
        std = rng.uniform(1.5, 4.5)
        noise = np.frombuffer(rng.bytes(img.size), np.uint8).reshape(img.shape)
        img = cv2.scaleAdd(noise.astype(np.float32), std * math.sqrt(12) / 256, img)
        img -= np.float32(std * math.sqrt(12) * 127.5 / 256)
        return np.clip(img + 0.5, 0, 255).astype(np.uint8)

    def annotations(self) -> list[dict]:
        """COCO annotations from the 4x instance map: visible extent, visibility, iscrowd."""
        out, s = [], _SS
        for iid, (cls, x0, y0, sp) in enumerate(self.objects, 1):
            ya, yb, xa, xb, _ = self._clip(sp, x0, y0)
            if ya >= yb or xa >= xb:
                continue
            vis = self.ids[ya * s : yb * s, xa * s : xb * s] == iid
            n = np.count_nonzero(vis)
            if n == 0:
                continue
            rows, cols = np.flatnonzero(vis.any(1)), np.flatnonzero(vis.any(0))
            bx, by = xa + cols[0] / s, ya + rows[0] / s
            bw, bh = (cols[-1] + 1 - cols[0]) / s, (rows[-1] + 1 - rows[0]) / s
            frac = n / np.count_nonzero(sp.mask)
            out.append(
                {
                    "category_id": cls + 1,
                    "bbox": [float(bx), float(by), float(bw), float(bh)],
                    "area": float(bw * bh),
                    "iscrowd": int(frac < _MIN_VISIBLE),
                    "visibility": round(float(frac), 3),
                }
            )
        return out


def _render_image(rng: np.random.Generator, height: int, width: int):
    """One scene: (uint8 RGB (H, W, 3), annotations without ids, ignore regions XYWH)."""
    scene = _Scene(rng, height, width)
    scene.fields()
    scene.water()
    scene.lots()
    scene.roads()
    scene.roofs()
    scene.clutter()
    scene.ignore_regions()
    lo, hi = _COUNT_RANGE
    scene.populate(int(np.clip(round(rng.uniform(*_DENSITY) * scene.scale), lo, hi)))
    scene.trees()
    anns = scene.annotations()
    for _ in range(5):  # top up on free ground if occlusion left too few labelled objects
        short = lo - sum(1 for a in anns if not a["iscrowd"])
        if short <= 0:
            break
        scene.populate(short, max_overlap=0.0)
        anns = scene.annotations()
    ignore = [
        [float(x0), float(y0), float(x1 - x0), float(y1 - y0)] for x0, y0, x1, y1 in scene.ignore
    ]
    return scene.finish(), anns, ignore


# ---------------------------------------------------------------------------------------------
# Files, registration, statistics
# ---------------------------------------------------------------------------------------------
def default_root() -> str:
    """``$DETECTRON2_DATASETS/synthetic_aerial`` (``datasets/synthetic_aerial`` if unset)."""
    root = os.path.expanduser(os.environ.get("DETECTRON2_DATASETS", "datasets"))
    return os.path.join(root, "synthetic_aerial")


def _paths(root: str, split: str) -> tuple[str, str]:
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
    json_path, image_dir = _paths(root, split)
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
        from tqdm import tqdm

        indices = tqdm(indices, desc=f"synthetic_aerial {split}", unit="img")
    images, annotations = [], []
    for i in indices:
        img, anns, ignore = _render_image(np.random.default_rng([int(seed), i]), height, width)
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


def _generate_and_load(name: str, root: str, cfg: dict) -> list[dict]:
    from prnet.data.datasets.coco import load_coco_json_with_ignore

    json_path = generate_synthetic_aerial(root, **cfg)
    return load_coco_json_with_ignore(json_path, _paths(root, cfg["split"])[1], name)


_SPLIT_KEYS = {"split", "num_images", "image_size", "seed", "progress"}


def register_synthetic_aerial(root: str | None = None, splits: dict | None = None) -> list[str]:
    """Register synthetic splits in Detectron2's catalogs; images are generated lazily.

    ``splits`` maps dataset name -> keyword arguments of ``generate_synthetic_aerial`` (at least
    ``split``); default ``DEFAULT_SPLITS`` (train: seed 0, val: seed 1). Generation happens on
    the first ``DatasetCatalog.get(name)``. A name that is already registered is replaced.
    Returns the registered names.
    """
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from prnet.data.datasets.coco import register_coco_with_ignore

    root = default_root() if root is None else os.fspath(root)
    splits = DEFAULT_SPLITS if splits is None else splits
    names = []
    for name, cfg in splits.items():
        unknown = set(cfg) - _SPLIT_KEYS
        if unknown or "split" not in cfg:
            raise ValueError(
                f"synthetic split {name!r}: expected keys {sorted(_SPLIT_KEYS)} including "
                f"'split', got {sorted(cfg)}"
            )
        if name in DatasetCatalog.list():
            DatasetCatalog.remove(name)
            MetadataCatalog.remove(name)
        json_file, image_root = _paths(root, cfg["split"])
        # Metadata exactly as for any COCO-with-ignore dataset; then swap in a loader that
        # generates the split on first use.
        metadata = {
            "thing_classes": list(SYNTHETIC_CLASSES),
            # set now (load_coco_json sets the same on first use) so that evaluators and
            # configs can read it before the split is generated
            "thing_dataset_id_to_contiguous_id": {i + 1: i for i in range(len(SYNTHETIC_CLASSES))},
            "protocol": SYNTHETIC_PROTOCOL,
        }
        register_coco_with_ignore(name, metadata, json_file, image_root)
        DatasetCatalog.remove(name)
        DatasetCatalog.register(name, functools.partial(_generate_and_load, name, root, dict(cfg)))
        names.append(name)
    return names


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
