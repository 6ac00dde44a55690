"""Colours and ground materials of the synthetic scenes.

Objects draw their colours from small real-world palettes with a random jitter, so a class is
recognisable by its colour pattern while no two instances look exactly alike.
"""

from __future__ import annotations

import functools

import numpy as np

# Ground material of each pixel: decides where objects may stand and which way vehicles face.
FIELD, ROAD, LOT, WATER, ROOF = range(5)

rgb = functools.partial(np.array, dtype=np.float32)

CAR_COLORS = rgb(
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
TRUCK_CAB = rgb([[200, 40, 35], [35, 70, 160], [235, 235, 230], [230, 190, 40], [40, 120, 70]])
TRUCK_BOX = rgb([[225, 225, 222], [190, 192, 196], [220, 120, 40], [90, 110, 140], [200, 60, 50]])
CLOTHES = rgb(
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
HULL = rgb([[240, 240, 238], [235, 235, 235], [180, 40, 40], [40, 70, 140], [60, 60, 65]])
DECK = rgb([[60, 110, 190], [150, 110, 70], [120, 125, 130], [210, 210, 205], [200, 150, 40]])
PLANE = rgb([[240, 240, 242], [215, 218, 222], [200, 205, 210]])
PLANE_TAIL = rgb([[200, 40, 40], [40, 70, 170], [240, 240, 242], [230, 150, 30]])
TANK = rgb([[225, 225, 222], [200, 202, 205], [215, 210, 190], [190, 205, 195]])
FIELD_COLORS = rgb(
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
ROOF_COLORS = rgb(
    [[170, 80, 60], [150, 70, 55], [110, 110, 115], [70, 75, 85], [190, 180, 160], [200, 200, 195]]
)
GREENS = rgb([[40, 80, 35], [55, 95, 40], [35, 70, 40], [70, 100, 45]])
DARK = rgb([28, 32, 40])


def jitter(rng, color, spread: float = 12.0) -> np.ndarray:
    """``color`` plus Gaussian noise per channel: no two instances share the exact shade."""
    return color + rng.normal(0, spread, 3)


def pick(rng, palette) -> np.ndarray:
    """A random colour of ``palette``, jittered."""
    return jitter(rng, palette[rng.integers(len(palette))])
