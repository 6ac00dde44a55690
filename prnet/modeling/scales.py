"""Model scales n/s/m/l/x shared by the CSP backbone and the PRN neck (docs/paper.md, scales).

A layer written for the reference width ``c`` and depth ``n`` gets ``ceil8(min(c, max_channels) * width)``
channels and ``max(round(n * depth), 1)`` repeats. At m/l/x every C3k2 uses C3k inner blocks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ModelScale", "SCALES", "get_scale"]


@dataclass(frozen=True)
class ModelScale:
    depth: float
    width: float
    max_channels: int
    c3k_everywhere: bool = False

    def channels(self, c: int) -> int:
        return math.ceil(min(c, self.max_channels) * self.width / 8) * 8

    def repeats(self, n: int) -> int:
        return max(round(n * self.depth), 1)

    def c3k(self, flag: bool) -> bool:
        return flag or self.c3k_everywhere


SCALES = {
    "n": ModelScale(0.50, 0.25, 1024),
    "s": ModelScale(0.50, 0.50, 1024),
    "m": ModelScale(0.50, 1.00, 512, c3k_everywhere=True),
    "l": ModelScale(1.00, 1.00, 512, c3k_everywhere=True),
    "x": ModelScale(1.00, 1.50, 512, c3k_everywhere=True),
}


def get_scale(scale: str | ModelScale) -> ModelScale:
    if isinstance(scale, ModelScale):
        return scale
    if scale not in SCALES:
        raise ValueError(f"Unknown model scale {scale!r}; expected one of {sorted(SCALES)}")
    return SCALES[scale]
