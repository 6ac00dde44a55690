"""Designs of the seven object classes and of the unlabelled look-alikes (trees, clutter).

The classes differ by shape and colour pattern, never by single-pixel details, so that they stay
learnable at 4-32 px. Each design returns ``(parts, height)`` at ground-sampling scale ``g``:
``parts`` are (polygon in the object frame, x forward; rgb) drawn in order, ``height`` sets the
length of the cast shadow (None: flat, no shadow).

1. pedestrian: round blob in a bright clothing colour with a dark head in the middle (4-8 px)
2. cyclist: thin dark bar with wheel ends and a coloured rider in the middle (5-12 px long)
3. car: rounded box in a car colour with a dark windshield band and a dark rear window
4. truck: elongated; coloured cab with windshield, dark hitch, ribbed cargo box of another colour
5. boat: pointed hull with a coloured deck, only on water
6. storage-tank: light disc with a dark rim, a shaded inner roof and a dark centre vent
7. airplane: cross of a fuselage, swept wings and a tail plane, light grey
"""

from __future__ import annotations

import math

import numpy as np

from .drawing import chamfer, ellipse, rect
from .palettes import (
    CAR_COLORS,
    CLOTHES,
    DARK,
    DECK,
    GREENS,
    HULL,
    PLANE,
    PLANE_TAIL,
    TANK,
    TRUCK_BOX,
    TRUCK_CAB,
    jitter,
    pick,
    rgb,
)

SYNTHETIC_CLASSES: tuple[str, ...] = (
    "pedestrian",
    "cyclist",
    "car",
    "truck",
    "boat",
    "storage-tank",
    "airplane",
)


def _pedestrian(rng, g):
    s = rng.uniform(5.0, 7.5) * g
    parts = [
        (ellipse(0.35 * s, 0.5 * s), pick(rng, CLOTHES)),
        (ellipse(0.19 * s, 0.19 * s, 0.03 * s), jitter(rng, rgb([40, 30, 25]), 8)),
    ]
    return parts, 1.8 * s


def _cyclist(rng, g):
    ln = rng.uniform(6.5, 10.5) * g
    dark = jitter(rng, rgb([35, 35, 38]), 6)
    parts = [
        (rect(-0.5 * ln, 0.5 * ln, 0.13 * ln), dark),
        (ellipse(0.18 * ln, 0.08 * ln, -0.3 * ln), dark),
        (ellipse(0.18 * ln, 0.08 * ln, 0.3 * ln), dark),
        (ellipse(0.13 * ln, 0.21 * ln, -0.04 * ln), pick(rng, CLOTHES)),
        (ellipse(0.07 * ln, 0.07 * ln, -0.02 * ln), jitter(rng, rgb([40, 30, 25]), 6)),
    ]
    return parts, 0.3 * ln


def _car(rng, g):
    ln = rng.uniform(8.5, 14.0) * g
    w = ln * rng.uniform(0.46, 0.53)
    glass = jitter(rng, DARK, 6)
    parts = [
        (chamfer(ln, w, 0.2 * w), pick(rng, CAR_COLORS)),
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
        (rect(-0.38 * ln, -0.27 * ln, 0.74 * w), glass),
    ]
    return parts, 0.33 * ln


def _truck(rng, g):
    ln = rng.uniform(17.0, 31.0) * g
    w = ln * rng.uniform(0.28, 0.34)
    cab, box = pick(rng, TRUCK_CAB), pick(rng, TRUCK_BOX)
    parts = [
        (rect(0.25 * ln, 0.31 * ln, 0.4 * w), jitter(rng, DARK, 6)),  # hitch
        (chamfer(0.2 * ln, w * 0.94, 0.15 * w) + [0.4 * ln, 0.0], cab),
        (rect(-0.5 * ln, 0.26 * ln, w), box),
        (rect(0.36 * ln, 0.44 * ln, 0.8 * w), jitter(rng, DARK, 6)),  # windshield
    ]
    for x in np.arange(-0.38, 0.2, 0.12):  # ribs of the cargo box
        parts.append((rect(x * ln, x * ln + 0.025 * ln, w), box * 0.82))
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
        (hull, pick(rng, HULL)),
        (chamfer(0.34 * ln, 0.55 * w, 0.1 * w) - [0.12 * ln, 0], pick(rng, DECK)),
    ]
    return parts, 0.15 * ln


def _tank(rng, g):
    r = rng.uniform(3.5, 12.0) * g
    roof = pick(rng, TANK)
    parts = [
        (ellipse(r, r), jitter(rng, rgb([95, 95, 98]), 8)),
        (ellipse(0.84 * r, 0.84 * r), roof),
        (ellipse(0.55 * r, 0.55 * r, 0.12 * r, 0.12 * r), roof * 0.86),
        (ellipse(0.14 * r, 0.14 * r), jitter(rng, rgb([70, 70, 72]), 6)),
    ]
    return parts, 1.4 * r


def _airplane(rng, g):
    ln = rng.uniform(12.5, 30.0) * g
    span = ln * rng.uniform(0.85, 1.05)
    body = pick(rng, PLANE)
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
        (tail, pick(rng, PLANE_TAIL)),
        (ellipse(0.5 * ln, 0.065 * ln), body),
    ]
    return parts, 0.2 * ln


#: Design of each class, in the order of SYNTHETIC_CLASSES (class index = json id - 1).
BUILDERS = (_pedestrian, _cyclist, _car, _truck, _boat, _tank, _airplane)


def crown(rng, g, scale: float = 1.0):
    """Lumpy tree or bush crown: a few overlapping greens."""
    r = rng.uniform(3.0, 9.0) * g * scale
    base = pick(rng, GREENS)
    parts = [(ellipse(r, r * rng.uniform(0.8, 1.0)), base * 0.8)]
    for _ in range(rng.integers(2, 5)):
        off = rng.normal(0, 0.35 * r, 2)
        rr = r * rng.uniform(0.45, 0.7)
        parts.append((ellipse(rr, rr, *off), base * rng.uniform(0.9, 1.25)))
    return parts, 2.0 * r


def clutter(rng, g, kind: str):
    """Object-like but unlabelled things: ground-level decoys for the detector."""
    if kind == "bush":
        return crown(rng, g, 0.45)
    if kind == "rock":
        r = rng.uniform(1.2, 3.0) * g
        t = np.sort(rng.uniform(0, 2 * np.pi, 6))
        poly = np.stack([np.cos(t), np.sin(t)], 1) * r * rng.uniform(0.6, 1.0, (6, 1))
        return [(poly, jitter(rng, rgb([130, 122, 110]), 20))], 0.5 * r
    if kind == "stain":
        r = rng.uniform(1.0, 3.0) * g
        return [(ellipse(r, r * 0.7), jitter(rng, rgb([45, 45, 48]), 6))], None
    if kind == "paint":
        ln = rng.uniform(3.0, 6.0) * g
        return [(rect(-ln / 2, ln / 2, 1.2 * g), jitter(rng, rgb([225, 225, 215]), 8))], None
    if kind == "container":  # long plain box with ribs: no windshield, no cab
        ln = rng.uniform(9.0, 16.0) * g
        col = jitter(rng, rgb([[130, 80, 50], [60, 90, 70], [150, 140, 120]][rng.integers(3)]))
        parts = [(rect(-ln / 2, ln / 2, 0.36 * ln), col)]
        parts += [(rect(x * ln, x * ln + 0.05 * ln, 0.36 * ln), col * 0.7) for x in (-0.3, 0, 0.3)]
        return parts, 0.2 * ln
    if kind == "pool":
        ln = rng.uniform(6.0, 14.0) * g
        return [
            (rect(-ln / 2, ln / 2, 0.6 * ln), rgb([230, 230, 225])),
            (
                rect(-ln / 2 + 0.8, ln / 2 - 0.8, 0.6 * ln - 1.6),
                jitter(rng, rgb([60, 170, 200])),
            ),
        ], None
    # "ac": rooftop unit
    a = rng.uniform(1.5, 3.0) * g
    return [
        (rect(-a, a, 1.6 * a), jitter(rng, rgb([200, 202, 205]), 10)),
        (ellipse(0.45 * a, 0.45 * a), rgb([70, 70, 75])),
    ], 0.6 * a
