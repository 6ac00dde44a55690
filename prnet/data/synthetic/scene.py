"""The canvases of one scene and the mechanics of putting an object on them.

A :class:`Scene` holds the image, the ground material and direction of every pixel, the pixels
objects already occupy and a 4x instance map. Objects are pasted in drawing order, so whatever
is drawn later (another object, a tree) hides what is under it, and the instance map then gives
each labelled object's *visible* extent exactly. Every random draw comes from the scene's
``rng``, in a fixed order, so a seed always gives the same image.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .drawing import SS, Sprite, noise, render_sprite
from .palettes import FIELD, LOT, ROAD, ROOF, WATER
from .sprites import BUILDERS

REF_AREA = 320 * 320  # image area that object counts are quoted for
MIN_VISIBLE = 0.5  # below this visible fraction an object becomes an iscrowd box

# Where each class may stand (boats only on water).
CLASS_GROUND = {
    0: (LOT, FIELD, ROAD),
    1: (ROAD, LOT),
    2: (ROAD, LOT),
    3: (ROAD, LOT),
    4: (WATER,),
    5: (LOT, FIELD),
    6: (LOT, FIELD),
}


class Scene:
    """Draws one image and its annotations; every random draw comes from ``rng``."""

    def __init__(self, rng: np.random.Generator, height: int, width: int):
        self.rng, self.h, self.w = rng, height, width
        self.scale = height * width / REF_AREA
        self.g = rng.uniform(0.85, 1.3)  # ground sampling distance: object size multiplier
        sun = rng.uniform(0, 2 * np.pi)
        self.sun = np.array([math.cos(sun), math.sin(sun)]) * rng.uniform(0.3, 0.8)
        self.shadow_k = rng.uniform(0.3, 0.55)
        self.img = np.zeros((height, width, 3), np.float32)
        self.ground = np.full((height, width), FIELD, np.uint8)
        self.angle = np.zeros((height, width), np.float32)  # road / parking direction
        self.occupied = np.zeros((height, width), bool)
        self.ids = np.zeros((height * SS, width * SS), np.int16)
        self.ignore: list[tuple[int, int, int, int]] = []  # x0, y0, x1, y1
        self.objects: list[tuple[int, int, int, Sprite]] = []  # class, x0, y0, sprite
        self._cands: dict[tuple, np.ndarray] = {}

    def count(self, lo: float, hi: float) -> int:
        """A random count in [lo, hi] per REF_AREA, scaled to this image's area."""
        return round(self.rng.uniform(lo, hi) * self.scale)

    def blend(self, cov, sl, color, opacity: float = 1.0):
        """Alpha-blend ``color`` (rgb or per-pixel (h, w, 3)) with coverage ``cov`` into ``sl``."""
        a = cov * np.float32(opacity) if opacity != 1.0 else cov
        if np.ndim(color) == 3:
            col = np.ascontiguousarray(color, np.float32)
        else:
            col = np.empty(cov.shape + (3,), np.float32)
            col[:] = color
        self.img[sl] = cv2.blendLinear(self.img[sl], col, 1 - a, a)

    def candidates(self, grounds) -> np.ndarray:
        """Flat pixel indices of the given ground types (cached: ground is final by now)."""
        if grounds not in self._cands:
            idx = np.flatnonzero(self.ground_is(grounds))
            if idx.size == 0:
                idx = np.flatnonzero(self.ground_is((FIELD, ROAD, LOT)))
            self._cands[grounds] = idx
        return self._cands[grounds]

    def ground_is(self, grounds) -> np.ndarray:
        """Boolean map of the pixels whose ground type is in ``grounds`` (a lookup, not isin)."""
        table = np.zeros(256, bool)
        table[list(grounds)] = True
        return table[self.ground]

    def sprite(self, parts_height, cx, cy, angle, need_mask=True) -> tuple[Sprite, int, int]:
        """Render a design centred at world (cx, cy), shadow cast away from the sun; returns
        (sprite, x0, y0) with (x0, y0) the image position of the sprite's patch."""
        parts, height = parts_height
        frac = (cx % 1.0, cy % 1.0)
        shadow = None if height is None else self.sun * height
        sp = render_sprite(parts, frac, angle, shadow, need_mask=need_mask)
        return sp, math.floor(cx) + sp.lo[0], math.floor(cy) + sp.lo[1]

    def _fits(self, sp: Sprite, x0: int, y0: int, max_overlap: float, region=None) -> bool:
        """Inside ``region`` (else clear of every ignore region) and on at most ``max_overlap``
        of its footprint already occupied."""
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

    def paste(self, sp: Sprite, x0: int, y0: int, instance: int | None = None):
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
            s = SS
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
                    cands = self.candidates(CLASS_GROUND[cls])
                i = cands[rng.integers(cands.size)]
                cx, cy = i % self.w + rng.random(), i // self.w + rng.random()
            if not (0 <= cx < self.w and 0 <= cy < self.h):
                continue
            iy, ix = int(cy), int(cx)  # cheap rejection before rendering: centre area taken
            if self.occupied[max(iy - 1, 0) : iy + 2, max(ix - 1, 0) : ix + 2].any():
                continue
            if at is not None and self.ground[iy, ix] not in CLASS_GROUND[cls]:
                continue
            if region is not None and self.ground[iy, ix] in (WATER, ROOF):
                continue
            a = angle
            if a is None:
                gy, gx = int(cy), int(cx)
                aligned = cls in (1, 2, 3) and self.ground[gy, gx] in (ROAD, LOT)
                a = (
                    self.angle[gy, gx] + np.pi * rng.integers(2) + rng.normal(0, 0.08)
                    if aligned and rng.random() < 0.85
                    else rng.uniform(0, 2 * np.pi)
                )
            parts, height = BUILDERS[cls](rng, self.g)
            bright = rng.uniform(0.8, 1.2)
            parts = [(poly, rgb * bright) for poly, rgb in parts]
            sp, x0, y0 = self.sprite((parts, height), cx, cy, a, need_mask=labelled)
            if not self._fits(sp, x0, y0, max_overlap, region):
                continue
            self.occupy(sp, x0, y0)
            if labelled:
                self.objects.append((cls, x0, y0, sp))
                self.paste(sp, x0, y0, len(self.objects))
            else:  # inside an ignore region: nothing labelled underneath to occlude
                self.paste(sp, x0, y0)
            ex = sp.extent
            return cx, cy, a, max(ex[2] - ex[0], ex[3] - ex[1])
        return None

    def _clip(self, sp: Sprite, x0: int, y0: int):
        """Image slices and the matching patch slices of a sprite placed at (x0, y0)."""
        ph, pw = sp.alpha.shape
        ya, yb, xa, xb = max(y0, 0), min(y0 + ph, self.h), max(x0, 0), min(x0 + pw, self.w)
        return ya, yb, xa, xb, np.s_[ya - y0 : yb - y0, xa - x0 : xb - x0]

    def occupy(self, sp: Sprite, x0: int, y0: int):
        """Mark the sprite's pixels as taken, so later objects do not stack on it."""
        ya, yb, xa, xb, p = self._clip(sp, x0, y0)
        if ya < yb and xa < xb:
            self.occupied[ya:yb, xa:xb] |= sp.alpha[p] > 0.05

    def finish(self) -> np.ndarray:
        """Camera and atmosphere: cloud shadow, illumination, colour cast, blur, noise."""
        rng, h, w = self.rng, self.h, self.w
        img = self.img
        if rng.random() < 0.3:
            cloud = np.clip(1.5 * noise(rng, h, w, 80) - 0.5, 0, 1)
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
        noise_bytes = np.frombuffer(rng.bytes(img.size), np.uint8).reshape(img.shape)
        img = cv2.scaleAdd(noise_bytes.astype(np.float32), std * math.sqrt(12) / 256, img)
        img -= np.float32(std * math.sqrt(12) * 127.5 / 256)
        return np.clip(img + 0.5, 0, 255).astype(np.uint8)

    def annotations(self) -> list[dict]:
        """COCO annotations from the 4x instance map: visible extent, visibility, iscrowd."""
        out, s = [], SS
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
                    "iscrowd": int(frac < MIN_VISIBLE),
                    "visibility": round(float(frac), 3),
                }
            )
        return out
