"""Where things go once the ground is drawn: ignore regions, labelled objects, decoys, trees.

Objects come in small groups (a row of parked cars, people walking together) as in real aerial
images. Ignore regions are packed with unlabelled objects: the evaluator's ignore-region rule
keeps detections of them from counting as false positives, and no labelled object is put there.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .palettes import FIELD, LOT, ROAD, ROOF, WATER
from .scene import Scene
from .sprites import clutter as clutter_design
from .sprites import crown

# How often each class is drawn (boats only where there is water).
CLASS_WEIGHTS = np.array([0.22, 0.13, 0.29, 0.1, 0.1, 0.08, 0.08])
GROUP = {  # probability of a group, max extra members, spacing in object sizes
    0: (0.4, 3, 1.2),
    1: (0.2, 2, 1.4),
    2: (0.35, 4, 0.75),
    3: (0.15, 2, 0.5),
    4: (0.2, 2, 0.9),
    5: (0.6, 5, 1.25),
    6: (0.1, 1, 1.3),
}
# Decoy kinds, the ground each may lie on, and how often each is drawn.
CLUTTER_KINDS = ("bush", "rock", "stain", "paint", "container", "pool", "ac")
CLUTTER_GROUND = (
    (FIELD, LOT),
    (FIELD, LOT),
    (ROAD, LOT),
    (ROAD, LOT),
    (FIELD,),
    (FIELD,),
    (ROOF,),
)
CLUTTER_WEIGHTS = (0.3, 0.15, 0.13, 0.12, 0.08, 0.05, 0.17)


def ignore_regions(scene: Scene):
    """1-2 rectangles densely filled with unlabelled objects (a crowd, packed parking)."""
    rng, side = scene.rng, min(scene.h, scene.w)
    for _ in range(int(rng.integers(1, 3))):
        for _ in range(10):
            rw, rh = (rng.uniform(0.12, 0.22, 2) * side).astype(int) + 4
            x0, y0 = int(rng.integers(0, scene.w - rw)), int(rng.integers(0, scene.h - rh))
            box = (x0, y0, x0 + rw, y0 + rh)
            free = all(
                box[0] >= b[2] + 4 or b[0] >= box[2] + 4 or box[1] >= b[3] + 4 or b[1] >= box[3] + 4
                for b in scene.ignore
            )
            if free and (scene.ground[y0 : y0 + rh, x0 : x0 + rw] == WATER).mean() < 0.3:
                break
        else:
            continue
        scene.ignore.append(box)
        mode = rng.integers(3)  # 0 crowd, 1 packed parking, 2 mixed
        angle = rng.uniform(0, np.pi) if mode == 1 else None
        for _ in range(int(rw * rh / rng.uniform(80, 140))):
            cls = (0, 2, (0, 1, 2, 3, 5)[rng.integers(5)])[mode]
            a = None if angle is None else angle + np.pi * rng.integers(2)
            scene.place(cls, False, region=box, angle=a, max_overlap=0.35, tries=2)


def populate(scene: Scene, n: int, max_overlap: float = 0.25) -> int:
    """Place up to ``n`` labelled objects (with small groups); returns how many."""
    rng = scene.rng
    weights = CLASS_WEIGHTS.copy()
    if not (scene.ground == WATER).any():
        weights[4] = 0.0
    cdf = np.cumsum(weights / weights.sum())[:-1]  # cheaper per draw than rng.choice(p=)
    placed = attempts = 0
    while placed < n and attempts < 3 * n:
        attempts += 1
        cls = int(np.searchsorted(cdf, rng.random(), side="right"))
        r = scene.place(cls, True, max_overlap=max_overlap)
        if r is None:
            continue
        placed += 1
        p, extra, spacing = GROUP[cls]
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
            if scene.place(cls, True, at=at, angle=same, max_overlap=max_overlap, tries=2):
                placed += 1
    return placed


def clutter(scene: Scene):
    """Ground-level decoys drawn before the objects (bushes, rocks, stains, paint, ...)."""
    rng = scene.rng
    cdf = np.cumsum(CLUTTER_WEIGHTS)[:-1]
    cands = {}
    for _ in range(scene.count(20, 50)):
        k = int(np.searchsorted(cdf, rng.random(), side="right"))
        if k not in cands:
            cands[k] = scene.candidates(CLUTTER_GROUND[k])
        i = cands[k][rng.integers(cands[k].size)]
        cx, cy = i % scene.w + rng.random(), i // scene.w + rng.random()
        design = clutter_design(rng, scene.g, CLUTTER_KINDS[k])
        sp, x0, y0 = scene.sprite(design, cx, cy, rng.uniform(0, 2 * np.pi), need_mask=False)
        scene.paste(sp, x0, y0)


def trees(scene: Scene):
    """Tree crowns drawn over the objects: the main source of partial occlusion."""
    rng = scene.rng
    road = (scene.ground == ROAD).astype(np.uint8)
    verge = (cv2.dilate(road, np.ones((9, 9), np.uint8)) > 0) & scene.ground_is((FIELD, LOT))
    verge_idx, field_idx = np.flatnonzero(verge), scene.candidates((FIELD,))
    for _ in range(scene.count(3, 14)):
        idx = verge_idx if verge_idx.size and rng.random() < 0.6 else field_idx
        i = idx[rng.integers(idx.size)]
        centre = np.array([i % scene.w, i // scene.w], np.float64)
        for _ in range(int(rng.integers(1, 5))):
            cx, cy = centre + rng.normal(0, 5 * scene.g, 2)
            sp, x0, y0 = scene.sprite(crown(rng, scene.g), cx, cy, 0.0)
            scene.occupy(sp, x0, y0)
            scene.paste(sp, x0, y0, 0)
