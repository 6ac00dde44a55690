"""YOLO-style training augmentation as pure functions on numpy arrays.

The recipe (docs/recipe.md) is mosaic -> random scale/translate -> HSV jitter -> horizontal flip at
640 px; on large frames a :func:`native_crop` of each image may come first
(docs/native_resolution.md). Every function here is deterministic given its inputs and a
``numpy.random.Generator``, so the geometry can be property-tested without a data loader.

Conventions
-----------
* image: ``(H, W, C)`` uint8 (HSV jitter assumes RGB channel order).
* boxes / ignore regions: ``(N, 4)`` float32 XYXY_ABS in continuous coordinates, as in Detectron2:
  a box covering pixel columns 2..4 is ``x0=2, x1=5``; an image of width W spans ``[0, W]``.
* matrix: ``(2, 3)`` float64 affine ``p' = A @ p + t`` in those continuous coordinates.

Minimum box rule (the only place it lives, see :func:`filter_boxes`)
---------------------------------------------------------------------
After every geometric transform a box is mapped by its four corners (then made axis-aligned),
clipped to the output image, and **kept only if the clipped box is at least ``min_size`` px
(default 2) wide and high and keeps at least ``min_visible`` (default 10 %) of the area of the
unclipped transformed box**. Ignore regions go through the same transforms and clipping but are
never filtered by that rule; only regions left with zero area are dropped.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from detectron2.data import transforms as T

__all__ = [
    "MIN_BOX_SIZE",
    "MIN_VISIBLE",
    "PAD_VALUE",
    "AffineTransform",
    "Sample",
    "clip_boxes",
    "filter_boxes",
    "hflip",
    "hflip_boxes",
    "hsv_jitter",
    "letterbox",
    "crop_window",
    "mosaic4",
    "native_crop",
    "random_affine",
    "resize_bilinear_uint8",
    "resize_long_side",
    "transform_boxes",
    "warp_targets",
]

MIN_BOX_SIZE = 2.0
"""Boxes narrower or lower than this (px, after clipping) are dropped from the training targets."""
MIN_VISIBLE = 0.1
"""Boxes keeping less than this fraction of their transformed area after clipping are dropped."""
PAD_VALUE = 114
"""Grey used for letterbox padding, the empty mosaic canvas and the affine border (YOLO default)."""


class Sample(NamedTuple):
    """One training sample: image, targets and ignore regions in the same pixel frame."""

    image: np.ndarray  # (H, W, C) uint8
    boxes: np.ndarray  # (N, 4) float32 XYXY_ABS
    classes: np.ndarray  # (N,) int64
    ignore: np.ndarray  # (K, 4) float32 XYXY_ABS

    @classmethod
    def create(cls, image, boxes=None, classes=None, ignore=None) -> "Sample":
        """Validate and normalise dtypes/shapes (missing targets become empty arrays)."""
        image = np.asarray(image)
        if image.ndim != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, C) uint8, got {image.shape} {image.dtype}")
        boxes = _as_boxes(boxes)
        classes = np.zeros(0, np.int64) if classes is None else np.asarray(classes, np.int64)
        if classes.shape != (len(boxes),):
            raise ValueError(f"classes shape {classes.shape} does not match {len(boxes)} boxes")
        return cls(image, boxes, classes, _as_boxes(ignore))

    def select(self, keep: np.ndarray) -> "Sample":
        return self._replace(boxes=self.boxes[keep], classes=self.classes[keep])


def _as_boxes(boxes) -> np.ndarray:
    if boxes is None:
        return np.zeros((0, 4), np.float32)
    boxes = np.asarray(boxes, dtype=np.float32)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4) XYXY_ABS, got {boxes.shape}")
    return boxes


class AffineTransform(T.Transform):
    """Detectron2 ``Transform`` for a 2x3 affine in continuous coordinates.

    ``apply_box`` is Detectron2's: the 4 corners are mapped and made axis-aligned. ``apply_image``
    uses ``cv2.warpAffine``, which works on pixel indices (pixel centres at integers), so the
    translation is shifted by half a pixel to keep images and boxes exactly aligned.
    """

    def __init__(self, matrix, out_size: tuple[int, int] | None = None, border_value=PAD_VALUE):
        """``out_size`` is ``(height, width)`` of the output image (needed by ``apply_image``)."""
        super().__init__()
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.shape != (2, 3):
            raise ValueError(f"affine matrix must be 2x3, got {matrix.shape}")
        self._set_attributes(locals())

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        coords = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
        return coords @ self.matrix[:, :2].T + self.matrix[:, 2]

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        if self.out_size is None:
            raise ValueError("AffineTransform needs out_size=(height, width) to warp an image")
        height, width = self.out_size
        pixel = self.matrix.copy()
        # index p_i = p - 0.5 on both sides: t_i = t + A @ (0.5, 0.5) - 0.5
        pixel[:, 2] += pixel[:, :2].sum(axis=1) * 0.5 - 0.5
        value = (self.border_value,) * (img.shape[2] if img.ndim == 3 else 1)
        out = cv2.warpAffine(img, pixel, (width, height), flags=cv2.INTER_LINEAR, borderValue=value)
        return out.reshape(height, width, *img.shape[2:])

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        raise NotImplementedError("prnet trains boxes only")


def transform_boxes(boxes, matrix) -> np.ndarray:
    """Map ``(N, 4)`` XYXY boxes through a 2x3 affine by their corners; result is axis-aligned."""
    boxes = _as_boxes(boxes)
    return AffineTransform(matrix).apply_box(boxes).astype(np.float32).reshape(-1, 4)


def clip_boxes(boxes, width: float, height: float) -> np.ndarray:
    """Clip XYXY boxes to ``[0, width] x [0, height]``."""
    boxes = _as_boxes(boxes).copy()
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    return boxes


def filter_boxes(
    transformed, clipped, min_size: float = MIN_BOX_SIZE, min_visible: float = MIN_VISIBLE
) -> np.ndarray:
    """The minimum box rule: ``(N,)`` bool mask of boxes to keep.

    ``transformed`` are the boxes right after a geometric transform, ``clipped`` the same boxes
    clipped to the output image. A box is kept when its clipped width and height are both
    ``>= min_size`` (and > 0) and its clipped area is ``>= min_visible`` times its transformed area.
    """
    transformed, clipped = _as_boxes(transformed), _as_boxes(clipped)
    if transformed.shape != clipped.shape:
        raise ValueError(f"shape mismatch: {transformed.shape} vs {clipped.shape}")
    w, h = clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
    tw, th = transformed[:, 2] - transformed[:, 0], transformed[:, 3] - transformed[:, 1]
    return (
        (w > 0)
        & (h > 0)
        & (w >= min_size)
        & (h >= min_size)
        & (w * h >= min_visible * tw.clip(0) * th.clip(0))
    )


def warp_targets(
    sample: Sample,
    matrix,
    width: int,
    height: int,
    min_size: float = MIN_BOX_SIZE,
    min_visible: float = MIN_VISIBLE,
) -> Sample:
    """Transform boxes and ignore regions of ``sample`` into a ``width x height`` output frame.

    Boxes: transform, clip, apply :func:`filter_boxes`. Ignore regions: transform, clip, drop only
    the empty ones. The image is left untouched (the caller warps it).
    """
    moved = transform_boxes(sample.boxes, matrix)
    boxes = clip_boxes(moved, width, height)
    keep = filter_boxes(moved, boxes, min_size, min_visible)
    ignore = clip_boxes(transform_boxes(sample.ignore, matrix), width, height)
    nonempty = (ignore[:, 2] > ignore[:, 0]) & (ignore[:, 3] > ignore[:, 1])
    return sample._replace(boxes=boxes[keep], classes=sample.classes[keep], ignore=ignore[nonempty])


def resize_long_side(image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Resize so that the long side is ``size`` keeping the aspect ratio.

    Returns the resized image and the 2x3 matrix (a per-axis scale; the short side is rounded, so
    the scales are ``new_w / w`` and ``new_h / h`` exactly). The filter is Detectron2's
    (``ResizeTransform``: PIL's bilinear, antialiased when shrinking), computed by
    :func:`resize_bilinear_uint8`.
    """
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"empty image of shape {image.shape}")
    ratio = size / max(h, w)
    new_h, new_w = max(1, round(h * ratio)), max(1, round(w * ratio))
    if (new_h, new_w) != (h, w):
        image = resize_bilinear_uint8(image, new_h, new_w)
    matrix = np.array([[new_w / w, 0.0, 0.0], [0.0, new_h / h, 0.0]])
    return image, matrix


def resize_bilinear_uint8(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """PIL's antialiased bilinear resize of an ``(H, W, C)`` uint8 image, by torch's uint8 kernel
    (written to match PIL): Detectron2's ``ResizeTransform`` pixels to within 1 grey level (most
    equal: all of a 1080p frame to 640, 98.5 % of a 4K frame; 75 % or more of random noise), 3-7x
    faster (1080p to 640 on this project's CPU: 3-5 ms against PIL's 15 ms, which was a seventh of
    the INT8 model step). Every channel is resized alone (PIL would take a 4th one as alpha).
    Other dtypes go through ``ResizeTransform`` itself."""
    if image.dtype != np.uint8 or image.ndim != 3:
        return T.ResizeTransform(*image.shape[:2], height, width).apply_image(image)
    if not image.flags.writeable:  # e.g. np.asarray(PIL image): torch warns, though it only reads
        image = image.copy()
    channels_last = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
    out = F.interpolate(channels_last, size=(height, width), mode="bilinear", antialias=True,
                        align_corners=False)  # fmt: skip
    return np.ascontiguousarray(out[0].permute(1, 2, 0).numpy())


def letterbox(
    sample: Sample,
    size: int,
    pad_value: int = PAD_VALUE,
    min_size: float = MIN_BOX_SIZE,
    min_visible: float = MIN_VISIBLE,
) -> tuple[Sample, np.ndarray]:
    """Resize the long side to ``size``, pad (centred) to ``size x size``.

    Returns the new sample and the 2x3 matrix used (scale then integer translation).
    """
    image, matrix = resize_long_side(sample.image, size)
    new_h, new_w = image.shape[:2]
    left, top = (size - new_w) // 2, (size - new_h) // 2
    pad = T.PadTransform(left, top, size - new_w - left, size - new_h - top, pad_value=pad_value)
    matrix[:, 2] = (left, top)
    out = warp_targets(sample, matrix, size, size, min_size, min_visible)
    return out._replace(image=pad.apply_image(image)), matrix


def _window_start(
    length: int, crop: int, rng: np.random.Generator, span: tuple[float, float] | None = None
) -> int:
    """Start of a ``crop``-long window on an axis of ``length`` holding ``span=(lo, hi)``.

    A window inside the image (or holding the whole image when it is shorter than the crop) is
    drawn uniformly among those that contain the span (all of them when ``span`` is None); a span
    longer than the crop is centred instead.
    """
    first, last = min(0, length - crop), max(0, length - crop)
    if span is None:
        return int(rng.integers(first, last + 1))
    lo, hi = span
    if hi - lo <= crop:
        first, last = max(first, math.ceil(hi) - crop), min(last, math.floor(lo))
    if first > last:  # the object is longer than the crop: centre it
        centre = round((lo + hi - crop) / 2)
        return int(np.clip(centre, min(0, length - crop), max(0, length - crop)))
    return int(rng.integers(first, last + 1))


def crop_window(
    width: int,
    height: int,
    crop_size: int,
    rng: np.random.Generator,
    boxes=None,
    object_prob: float = 0.5,
) -> tuple[int, int]:
    """Top-left ``(x0, y0)`` of a ``crop_size`` square window on a ``width x height`` image.

    With probability ``object_prob`` (and boxes present) the window holds a box chosen uniformly,
    at a uniformly drawn place (the box is not always centred); otherwise the window is uniform
    over the image. Offsets are integers (no resampling); on a side shorter than ``crop_size``
    the window holds the whole side, at a random offset (negative start: padding before it).
    """
    if crop_size <= 0:
        raise ValueError(f"crop_size must be positive, got {crop_size}")
    if not 0 <= object_prob <= 1:
        raise ValueError(f"object_prob must be in [0, 1], got {object_prob}")
    boxes = _as_boxes(boxes)
    span_x = span_y = None
    if len(boxes) and rng.random() < object_prob:
        x0, y0, x1, y1 = (float(v) for v in boxes[rng.integers(len(boxes))])
        span_x, span_y = (x0, x1), (y0, y1)
    return (
        _window_start(width, crop_size, rng, span_x),
        _window_start(height, crop_size, rng, span_y),
    )


def native_crop(
    sample: Sample,
    crop_size: int,
    rng: np.random.Generator,
    object_prob: float = 0.5,
    pad_value: int = PAD_VALUE,
    min_size: float = MIN_BOX_SIZE,
    min_visible: float = MIN_VISIBLE,
) -> tuple[Sample, np.ndarray]:
    """A ``crop_size x crop_size`` window of the image at native scale (:func:`crop_window`).

    Objects keep their size in pixels; boxes cut by the window follow the minimum box rule,
    exactly as at the mosaic's borders, and ignore regions are cut with them. Where the image is
    smaller than the window, the rest is ``pad_value``. Returns the sample and the matrix
    (a pure integer translation).
    """
    h, w = sample.image.shape[:2]
    x0, y0 = crop_window(w, h, crop_size, rng, sample.boxes, object_prob)
    canvas = np.full((crop_size, crop_size, sample.image.shape[2]), pad_value, np.uint8)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + crop_size, w), min(y0 + crop_size, h)
    canvas[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = sample.image[sy0:sy1, sx0:sx1]
    matrix = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]])
    out = warp_targets(sample, matrix, crop_size, crop_size, min_size, min_visible)
    return out._replace(image=canvas), matrix


def mosaic4(
    samples: Sequence[Sample],
    size: int,
    rng: np.random.Generator,
    pad_value: int = PAD_VALUE,
    min_size: float = MIN_BOX_SIZE,
    min_visible: float = MIN_VISIBLE,
) -> Sample:
    """2x2 mosaic of four samples on a ``2size x 2size`` canvas.

    Each image is resized (long side ``size``) and placed in its quadrant with one corner on a
    centre drawn uniformly in ``[size/2, 3size/2)^2`` (top-left, top-right, bottom-left,
    bottom-right); parts falling off the canvas are cropped and boxes follow the minimum box rule.
    Follow with :func:`random_affine` (``size=size``) to bring the canvas back to ``size``.
    """
    if len(samples) != 4:
        raise ValueError(f"mosaic4 needs 4 samples, got {len(samples)}")
    channels = samples[0].image.shape[2]
    canvas = np.full((2 * size, 2 * size, channels), pad_value, dtype=np.uint8)
    xc, yc = (int(v) for v in rng.uniform(0.5 * size, 1.5 * size, size=2))
    boxes, classes, ignore = [], [], []
    for quadrant, sample in enumerate(samples):
        if sample.image.shape[2] != channels:
            raise ValueError("all mosaic images must have the same number of channels")
        image, matrix = resize_long_side(sample.image, size)
        h, w = image.shape[:2]
        x0 = xc - w if quadrant in (0, 2) else xc
        y0 = yc - h if quadrant in (0, 1) else yc
        # paste the part of the image that lands on the canvas
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x0 + w, 2 * size), min(y0 + h, 2 * size)
        canvas[cy0:cy1, cx0:cx1] = image[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
        matrix[:, 2] = (x0, y0)
        placed = warp_targets(sample, matrix, 2 * size, 2 * size, min_size, min_visible)
        boxes.append(placed.boxes)
        classes.append(placed.classes)
        ignore.append(placed.ignore)
    return Sample(canvas, np.concatenate(boxes), np.concatenate(classes), np.concatenate(ignore))


def random_affine(
    sample: Sample,
    rng: np.random.Generator,
    scale: float = 0.5,
    translate: float = 0.1,
    size: int | None = None,
    border_value: int = PAD_VALUE,
    min_size: float = MIN_BOX_SIZE,
    min_visible: float = MIN_VISIBLE,
) -> tuple[Sample, np.ndarray]:
    """Random zoom by ``U(1-scale, 1+scale)`` about the image centre and shift by
    ``U(-translate, translate)`` of the output size, into a ``size x size`` output (default: the
    input's own size). Returns the sample and the matrix.
    """
    if not 0 <= scale < 1 or not 0 <= translate <= 0.5:
        raise ValueError(f"need 0 <= scale < 1 and 0 <= translate <= 0.5, got {scale}, {translate}")
    h, w = sample.image.shape[:2]
    out_h, out_w = (h, w) if size is None else (size, size)
    zoom = rng.uniform(1 - scale, 1 + scale)
    shift_x, shift_y = rng.uniform(0.5 - translate, 0.5 + translate, size=2)
    # centre the input at the origin, zoom, then move the origin to the (shifted) output centre
    matrix = np.array(
        [
            [zoom, 0.0, shift_x * out_w - zoom * w / 2],
            [0.0, zoom, shift_y * out_h - zoom * h / 2],
        ]
    )
    image = AffineTransform(matrix, (out_h, out_w), border_value).apply_image(sample.image)
    out = warp_targets(sample, matrix, out_w, out_h, min_size, min_visible)
    return out._replace(image=image), matrix


def hflip_boxes(boxes, width: float) -> np.ndarray:
    """Mirror XYXY boxes in an image of ``width``: ``x -> width - x`` (an involution)."""
    return T.HFlipTransform(width).apply_box(_as_boxes(boxes)).astype(np.float32).reshape(-1, 4)


def hflip(sample: Sample) -> Sample:
    """Horizontal flip of image, boxes and ignore regions (Detectron2's ``HFlipTransform``)."""
    width = sample.image.shape[1]
    image = np.ascontiguousarray(T.HFlipTransform(width).apply_image(sample.image))
    return sample._replace(
        image=image,
        boxes=hflip_boxes(sample.boxes, width),
        ignore=hflip_boxes(sample.ignore, width),
    )


def hsv_jitter(
    image: np.ndarray,
    rng: np.random.Generator,
    h: float = 0.015,
    s: float = 0.7,
    v: float = 0.4,
) -> np.ndarray:
    """Random gains ``1 + U(-g, g)`` on hue, saturation and value of an RGB uint8 image.

    Hue rotates (OpenCV's 0..179 range, modulo); saturation and value are clipped to 0..255.
    Geometry, dtype and shape are unchanged; gains of 0 return the image unchanged.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"hsv_jitter needs (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
    gains = rng.uniform(-1, 1, size=3) * (h, s, v) + 1
    if h == s == v == 0:
        return image.copy()
    hue, sat, val = cv2.split(cv2.cvtColor(image, cv2.COLOR_RGB2HSV))
    x = np.arange(256, dtype=np.float64)
    lut_hue = ((x * gains[0]) % 180).astype(np.uint8)
    lut_sat = (x * gains[1]).clip(0, 255).astype(np.uint8)
    lut_val = (x * gains[2]).clip(0, 255).astype(np.uint8)
    hsv = cv2.merge((cv2.LUT(hue, lut_hue), cv2.LUT(sat, lut_sat), cv2.LUT(val, lut_val)))
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
