"""The ground under the objects: field parcels, water, parking lots, roads and buildings.

Each painter draws onto a :class:`~.scene.Scene` and records the ground material (and, for roads
and lots, the direction vehicles face) so that objects are later placed where they belong. They
must run in the order of :func:`~.generate.render_image`: later layers cover earlier ones.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .drawing import box_poly, noise, poly_coverage, union_coverage
from .palettes import FIELD_COLORS, GREENS, LOT, ROAD, ROOF, ROOF_COLORS, WATER, jitter, pick, rgb
from .scene import Scene


def fields(scene: Scene):
    """Straight-edged parcels (Voronoi cells) with ploughing stripes, texture, hedgerows."""
    rng, h, w = scene.rng, scene.h, scene.w
    k = int(rng.integers(4, 10))
    seeds = (rng.uniform(0, 1, (k, 2)) * [w, h]).astype(np.float32)
    xs, ys = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
    d = (xs - seeds[:, :1])[:, None, :] ** 2 + (ys - seeds[:, 1:])[:, :, None] ** 2
    label = d.argmin(0).astype(np.uint8)  # nearest seed

    def lut(values) -> np.ndarray:  # per-parcel values -> per-pixel map
        return cv2.LUT(label, np.resize(np.asarray(values, np.float32), 256))

    colors = np.array([pick(rng, FIELD_COLORS) for _ in range(k)], np.float32)
    ang, period = rng.uniform(0, np.pi, k), rng.uniform(3.0, 9.0, k)
    amp = rng.uniform(0, 14, k) * (rng.random(k) < 0.7)
    fx, fy = lut(np.cos(ang) * 2 * np.pi / period), lut(np.sin(ang) * 2 * np.pi / period)
    stripes = lut(amp) * np.sin(fx * xs + fy * ys[:, None])
    texture = 10 * noise(rng, h, w, 24) + 5 * noise(rng, h, w, 3) + stripes
    scene.img[:] = cv2.merge([lut(colors[:, i]) + texture for i in range(3)])
    edge = np.zeros((h, w), np.uint8)  # hedgerows between parcels
    edge[:, 1:] |= label[:, 1:] != label[:, :-1]
    edge[1:, :] |= label[1:, :] != label[:-1, :]
    edge = cv2.dilate(edge, np.ones((2, 2), np.uint8)).astype(np.float32)
    scene.blend(edge, np.s_[:, :], GREENS[0], 0.6)


def water(scene: Scene):
    """Half of the scenes get a river (random walk) or a pond."""
    rng, h, w = scene.rng, scene.h, scene.w
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
        thick = int(rng.uniform(24, 60) * scene.g)
        cv2.polylines(m, [np.round(np.array(pts)).astype(np.int32)], False, 1, thick)
    else:
        c = (int(rng.uniform(0.2, 0.8) * w), int(rng.uniform(0.2, 0.8) * h))
        axes = (int(rng.uniform(0.12, 0.3) * w), int(rng.uniform(0.12, 0.3) * h))
        cv2.ellipse(m, c, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    soft = cv2.GaussianBlur(m.astype(np.float32), (0, 0), 1.0)
    color = jitter(rng, rgb([45, 80, 95]), 8) + 8 * noise(rng, h, w, 30)[..., None]
    color = color + 3 * noise(rng, h, w, 2)[..., None]
    scene.img[:] = scene.img * (1 - soft[..., None]) + soft[..., None] * color
    scene.ground[m > 0] = WATER


def lots(scene: Scene):
    """Concrete parking lots with stripes; vehicles on them park along the stripes."""
    rng = scene.rng
    for _ in range(scene.count(0.5, 3.0)):
        cx, cy = rng.uniform(0, scene.w), rng.uniform(0, scene.h)
        ln, wd, a = rng.uniform(40, 110), rng.uniform(30, 80), rng.uniform(0, np.pi)
        cov, sl = poly_coverage(scene.ground.shape, [box_poly(cx, cy, ln, wd, a)])
        scene.blend(cov, sl, jitter(rng, rgb([165, 163, 158]), 12))
        scene.img[sl] += (4 * rng.standard_normal(cov.shape) * cov)[..., None]
        inside = cov > 0.5
        scene.ground[sl][inside] = LOT
        scene.angle[sl][inside] = a + np.pi / 2
        # parking stripes: cars park parallel to them
        c, s = math.cos(a), math.sin(a)
        step = rng.uniform(7.5, 9.5) * scene.g
        t = np.repeat(np.arange(-ln / 2 + step, ln / 2, step), 2)
        side = np.tile([-wd / 4, wd / 4], t.size // 2)
        stripes = box_poly(cx + t * c - side * s, cy + t * s + side * c, 0.9, wd * 0.35, a)
        if t.size:
            scov, ssl = poly_coverage(scene.ground.shape, stripes)
            scene.blend(scov * (scene.ground[ssl] == LOT), ssl, rgb([225, 225, 215]), 0.8)


def roads(scene: Scene):
    """1-3 straight roads with sidewalks and a dashed centre line (drawn in layers)."""
    rng, h, w = scene.rng, scene.h, scene.w
    length, reach = 3 * (w + h), h + w
    specs = []
    for i in range(int(rng.integers(1, 4))):
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
        a = np.pi / 2 * rng.integers(2) + rng.normal(0, 0.3) if i < 2 else rng.uniform(0, np.pi)
        specs.append((cx, cy, rng.uniform(11, 20) * scene.g, a))
    layers = {"walk": [], "road": [], "dash": []}
    for cx, cy, width, a in specs:
        c, s = math.cos(a), math.sin(a)
        t = np.arange(-reach, reach, 9.0)
        layers["walk"].append(box_poly(cx, cy, length, width + 6, a)[None])
        layers["road"].append(box_poly(cx, cy, length, width, a)[None])
        layers["dash"].append(box_poly(cx + t * c, cy + t * s, 4.0, 1.0, a))
    full = np.s_[:, :]
    walk = union_coverage(scene.ground.shape, layers["walk"])
    scene.blend(walk, full, jitter(rng, rgb([170, 168, 160]), 8))
    scene.ground[walk > 0.5] = LOT
    road = union_coverage(scene.ground.shape, layers["road"])
    tone = jitter(rng, rgb([92, 92, 96]), 8) + 5 * noise(rng, h, w, 2)[..., None]
    scene.blend(road, full, tone)
    scene.ground[road > 0.5] = ROAD
    for (cx, cy, width, a), poly in zip(specs, layers["road"]):  # direction for vehicles
        cov, sl = poly_coverage(scene.ground.shape, list(poly))
        scene.angle[sl][cov > 0.5] = a
    dash = union_coverage(scene.ground.shape, layers["dash"])
    scene.blend(dash * (scene.ground == ROAD), full, rgb([225, 225, 210]), 0.8)


def roofs(scene: Scene):
    """Buildings: flat or gable roofs with a cast shadow, only on free fields and lots."""
    rng = scene.rng
    for _ in range(scene.count(4, 24)):
        cx, cy = rng.uniform(0, scene.w), rng.uniform(0, scene.h)
        ln, wd = rng.uniform(14, 46) * scene.g, rng.uniform(10, 28) * scene.g
        a = rng.uniform(0, np.pi)
        poly = box_poly(cx, cy, ln, wd, a)
        cov, sl = poly_coverage(scene.ground.shape, [poly])
        under = scene.ground[sl][cov > 0.5]
        if under.size == 0 or np.isin(under, (ROAD, WATER, ROOF)).mean() > 0.02:
            continue
        height = rng.uniform(3, 10) * scene.g
        sweep = np.concatenate([poly, poly + height * scene.sun]).astype(np.float32)
        scov, ssl = poly_coverage(scene.ground.shape, [cv2.convexHull(sweep)[:, 0]])
        scene.img[ssl] *= (1 - scene.shadow_k * scov)[..., None]
        color = pick(rng, ROOF_COLORS)
        scene.blend(cov, sl, color)
        if rng.random() < 0.7:  # gable roof: one half darker, light ridge
            c, s = math.cos(a), math.sin(a)
            n = np.array([-s, c]) * wd / 4
            half, hsl = poly_coverage(
                scene.ground.shape, [box_poly(cx + n[0], cy + n[1], ln, wd / 2, a)]
            )
            scene.blend(half, hsl, color * 0.78)
            ridge, rsl = poly_coverage(scene.ground.shape, [box_poly(cx, cy, ln, 0.8, a)])
            scene.blend(ridge, rsl, np.clip(color * 1.2, 0, 255), 0.7)
        scene.ground[sl][cov > 0.5] = ROOF
