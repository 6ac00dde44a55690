"""Drawing primitives: shapes in an object's own frame and their rasterisation.

Objects are a handful of coloured polygons, rasterised at 4x and averaged down, so that even a
5 px object has anti-aliased edges and its box can be measured to a quarter pixel. Ground
layers (parcels, roads, roofs) are drawn as anti-aliased polygon coverage and alpha-blended.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

SS = 4  # supersampling of object sprites and of the instance map

_CIRCLES = {
    n: np.stack([np.cos(t), np.sin(t)], 1)
    for n in range(10, 33)
    for t in [np.linspace(0.0, 2 * np.pi, n, endpoint=False)]
}


def ellipse(a: float, b: float, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    """Polygon (n, 2) of an ellipse with semi-axes a (along x) and b (along y)."""
    return _CIRCLES[min(max(int(3 * max(a, b)), 10), 32)] * (a, b) + (cx, cy)


def rect(x0: float, x1: float, w: float, cy: float = 0.0) -> np.ndarray:
    """Rectangle from x0 to x1 along the object's length, lateral width w centred at cy."""
    h = w / 2
    return np.array([[x0, cy - h], [x1, cy - h], [x1, cy + h], [x0, cy + h]])


def chamfer(ln: float, w: float, c: float) -> np.ndarray:
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


def box_poly(cx, cy, ln, w, angle) -> np.ndarray:
    """Corners (4, 2) of an ln x w (length x width) box centred at (cx, cy), turned by
    ``angle``; (n, 4, 2) if cx and cy are arrays."""
    c, s = math.cos(angle), math.sin(angle)
    local = np.array([[-ln, -w], [ln, -w], [ln, w], [-ln, w]]) / 2 @ np.array([[c, s], [-s, c]])
    centre = np.stack([np.asarray(cx, np.float64), np.asarray(cy, np.float64)], -1)
    return local + centre[..., None, :]


@dataclass
class Sprite:
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


def render_sprite(parts, frac, angle: float, shadow=None, need_mask: bool = True) -> Sprite:
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
    off = np.array([frac[0] - lx - 0.5 / SS, frac[1] - ly - 0.5 / SS])
    q = np.rint((pts + off) * (SS * 4)).astype(np.int32)
    canvas = np.zeros((h * SS, w * SS, 4), np.uint8)  # RGB + coverage
    start = 0
    for poly, color in parts:
        n = len(poly)
        cv2.fillPoly(canvas, [q[start : start + n]], (*color.tolist(), 255), cv2.LINE_8, 2)
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
    m = 1 / SS
    ex0, ey0 = math.floor(ox0 - m) - lx, math.floor(oy0 - m) - ly
    ex1, ey1 = math.ceil(ox1 + m) - lx, math.ceil(oy1 + m) - ly
    mask = canvas[..., 3] > 0 if need_mask else None
    return Sprite(alpha, small[..., :3], sh, mask, lo, (ex0, ey0, ex1, ey1))


def noise(rng, h: int, w: int, cell: int) -> np.ndarray:
    """Smooth unit-variance noise (h, w) with features about ``cell`` pixels wide."""
    small = rng.standard_normal((h // cell + 2, w // cell + 2)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def poly_coverage(shape, polys, shift: int = 3) -> tuple[np.ndarray, tuple[slice, slice]]:
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


def union_coverage(shape, groups, shift: int = 3) -> np.ndarray:
    """Full-image anti-aliased coverage of the union of polygon groups ((n, k, 2) arrays).

    One ``fillPoly`` call per group: within a call cv2 fills overlaps even-odd, so groups whose
    polygons overlap (crossing roads) must come in separate calls.
    """
    m = np.zeros(shape, np.uint8)
    for polys in groups:
        q = np.rint((polys - 0.5) * (1 << shift)).astype(np.int32)
        cv2.fillPoly(m, list(q), 255, cv2.LINE_AA, shift)
    return m.astype(np.float32) * (1 / 255)
