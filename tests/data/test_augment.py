"""Geometry of the YOLO augmentation: boxes must stay on the pixels they describe."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from prnet.data import augment as A

# far apart (and from black and the pad grey), for blurred images matched with a tolerance
PALETTE = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255)]


def _colour(k: int) -> tuple[int, int, int]:
    """Unique colour per index (k < 30), never black or the pad grey; for exact matching."""
    return (20 + 8 * k, 200, 250 - 7 * k)


def _draw(image: np.ndarray, box, colour) -> None:
    x0, y0, x1, y1 = (int(v) for v in box)
    image[y0:y1, x0:x1] = colour


def _extent(image: np.ndarray, colour, tol: int = 0):
    """Continuous XYXY extent of the pixels of ``colour`` (None if absent)."""
    close = np.abs(image.astype(int) - np.array(colour)).max(axis=2) <= tol
    ys, xs = np.nonzero(close)
    if len(xs) == 0:
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float32)


def _sample(h: int, w: int, boxes, ignore=None) -> A.Sample:
    image = np.zeros((h, w, 3), np.uint8)
    for k, box in enumerate(boxes):
        _draw(image, box, PALETTE[k])
    return A.Sample.create(image, boxes, np.arange(len(boxes)), ignore)


@pytest.mark.parametrize("h, w", [(20, 40), (40, 20), (32, 32), (10, 16)])
def test_letterbox_box_follows_pixels(h, w):
    box = [w // 4, h // 4, 3 * w // 4, 3 * h // 4]
    out, matrix = A.letterbox(_sample(h, w, [box]), 32)
    assert out.image.shape == (32, 32, 3) and out.image.dtype == np.uint8
    ratio = 32 / max(h, w)
    new_w, new_h = round(w * ratio), round(h * ratio)
    left, top = (32 - new_w) // 2, (32 - new_h) // 2
    np.testing.assert_allclose(matrix, [[new_w / w, 0, left], [0, new_h / h, top]])
    expected = np.array(box) * [new_w / w, new_h / h, new_w / w, new_h / h] + [left, top] * 2
    np.testing.assert_allclose(out.boxes, [expected], atol=1e-5)
    np.testing.assert_allclose(_extent(out.image, PALETTE[0], tol=90), expected, atol=1.0)
    if top:  # padding is the YOLO grey
        assert (out.image[:top] == A.PAD_VALUE).all()
    if left:
        assert (out.image[:, :left] == A.PAD_VALUE).all()


def test_letterbox_matches_worked_example():
    out, _ = A.letterbox(_sample(20, 40, [[10, 5, 20, 15]]), 32)
    np.testing.assert_allclose(out.boxes, [[8, 12, 16, 20]])
    assert out.classes.tolist() == [0]


@pytest.mark.parametrize("seed", range(12))
def test_random_affine_box_follows_pixels(seed):
    sample = _sample(64, 64, [[20, 16, 44, 40], [2, 50, 12, 60]])
    out, matrix = A.random_affine(sample, np.random.default_rng(seed), scale=0.5, translate=0.1)
    assert out.image.shape == (64, 64, 3) and out.image.dtype == np.uint8
    assert matrix[0, 0] == matrix[1, 1] and 0.5 <= matrix[0, 0] <= 1.5
    assert ((out.boxes >= 0) & (out.boxes <= 64)).all()
    for box, k in zip(out.boxes, out.classes):
        np.testing.assert_allclose(_extent(out.image, PALETTE[k], tol=90), box, atol=1.5)


def test_random_affine_without_jitter_is_identity():
    sample = _sample(24, 24, [[3, 4, 10, 20]], ignore=[[0, 0, 5, 5]])
    out, matrix = A.random_affine(sample, np.random.default_rng(0), scale=0.0, translate=0.0)
    np.testing.assert_allclose(matrix, np.eye(2, 3))
    np.testing.assert_array_equal(out.image, sample.image)
    np.testing.assert_allclose(out.boxes, sample.boxes)
    np.testing.assert_allclose(out.ignore, sample.ignore)


def test_random_affine_output_size_and_bad_arguments():
    sample = _sample(64, 64, [[20, 16, 44, 40]])
    out, _ = A.random_affine(sample, np.random.default_rng(1), size=32)
    assert out.image.shape == (32, 32, 3)
    with pytest.raises(ValueError, match="scale"):
        A.random_affine(sample, np.random.default_rng(1), scale=1.5)


def test_affine_image_is_half_pixel_exact():
    # a white pixel at column/row 1 covers [1, 2]; zoom 2 must centre it on 3.0, not 2.5
    image = np.zeros((4, 4, 1), np.uint8)
    image[1, 1] = 255
    out = A.AffineTransform([[2, 0, 0], [0, 2, 0]], (8, 8), border_value=0).apply_image(image)
    assert out.shape == (8, 8, 1)
    weights = out[..., 0].astype(float).sum(axis=0)
    centre = ((np.arange(8) + 0.5) * weights).sum() / weights.sum()
    assert centre == pytest.approx(3.0, abs=1e-6)
    np.testing.assert_allclose(
        A.transform_boxes([[1, 1, 2, 2]], [[2, 0, 0], [0, 2, 0]]), [[2, 2, 4, 4]]
    )


def test_transform_boxes_uses_corners():
    # 90 degree rotation about the origin: (x, y) -> (-y, x)
    rotated = A.transform_boxes([[1, 2, 4, 3]], [[0, -1, 0], [1, 0, 0]])
    np.testing.assert_allclose(rotated, [[-3, 1, -2, 4]])
    assert A.transform_boxes(np.zeros((0, 4)), np.eye(2, 3)).shape == (0, 4)


def test_hflip_matches_pixels_and_is_an_involution():
    sample = _sample(16, 30, [[2, 3, 9, 12], [25, 0, 30, 4]], ignore=[[0, 0, 4, 16]])
    flipped = A.hflip(sample)
    np.testing.assert_allclose(flipped.boxes, [[21, 3, 28, 12], [0, 0, 5, 4]])
    np.testing.assert_allclose(flipped.ignore, [[26, 0, 30, 16]])
    for box, k in zip(flipped.boxes, flipped.classes):
        np.testing.assert_allclose(_extent(flipped.image, PALETTE[k]), box)
    twice = A.hflip(flipped)
    np.testing.assert_array_equal(twice.image, sample.image)
    np.testing.assert_allclose(twice.boxes, sample.boxes)
    np.testing.assert_allclose(A.hflip_boxes(A.hflip_boxes(sample.boxes, 30), 30), sample.boxes)


def test_filter_boxes_rule():
    transformed = np.array(
        [
            [0, 0, 10, 10],  # fully visible
            [-9, 0, 1, 10],  # 1 px wide after clipping: too thin
            [-8, 0, 2, 10],  # 2 px wide, 20 % visible: kept
            [-19, 0, 2, 20],  # 2 px wide but 2/21 < 10 % visible: dropped
            [3, 3, 4.5, 9],  # 1.5 px wide although fully visible: dropped
            [5, 5, 5, 9],  # degenerate
        ],
        dtype=np.float32,
    )
    clipped = A.clip_boxes(transformed, 20, 20)
    keep = A.filter_boxes(transformed, clipped)
    assert keep.tolist() == [True, False, True, False, False, False]
    assert A.filter_boxes(transformed, clipped, min_size=1, min_visible=0).tolist() == [
        True,
        True,
        True,
        True,
        True,
        False,
    ]
    with pytest.raises(ValueError, match="shape"):
        A.filter_boxes(transformed, clipped[:2])


def test_mosaic_keeps_exactly_the_visible_boxes():
    size = 32
    layout = [
        [0, 0, 3, 3],
        [29, 0, 32, 3],
        [0, 29, 3, 32],
        [29, 29, 32, 32],
        [6, 8, 24, 20],
        [0, 10, 12, 14],
        [26, 6, 32, 26],
    ]
    samples = []
    for i in range(4):  # images already at the mosaic size: placement is an exact translation
        image = np.zeros((size, size, 3), np.uint8)
        for j, box in enumerate(layout):
            _draw(image, box, _colour(i * len(layout) + j))
        classes = np.arange(len(layout)) + i * len(layout)
        samples.append(A.Sample.create(image, layout, classes, ignore=[layout[4]]))
    dropped = kept = 0
    for seed in range(20):
        out = A.mosaic4(samples, size, np.random.default_rng(seed))
        assert out.image.shape == (2 * size, 2 * size, 3)
        expected = {}
        for k in range(4 * len(layout)):
            visible = _extent(out.image, _colour(k))
            if visible is None:
                continue
            w, h = visible[2] - visible[0], visible[3] - visible[1]
            x0, y0, x1, y1 = layout[k % len(layout)]
            if w >= 2 and h >= 2 and w * h >= 0.1 * (x1 - x0) * (y1 - y0):
                expected[k] = visible
        got = dict(zip(out.classes.tolist(), out.boxes))
        assert got.keys() == expected.keys()
        for k, box in expected.items():
            np.testing.assert_allclose(got[k], box)
        # the ignore region is the middle box of each image: same geometry, never size-filtered
        middle = [got[k] for k in sorted(got) if k % len(layout) == 4]
        np.testing.assert_allclose(sorted(map(tuple, out.ignore)), sorted(map(tuple, middle)))
        kept += len(expected)
        dropped += 4 * len(layout) - len(expected)
    assert kept > 0 and dropped > 0  # both branches of the rule were exercised


def test_mosaic_resizes_and_pads():
    samples = [_sample(16, 8, [[1, 1, 7, 15]]) for _ in range(4)]
    out = A.mosaic4(samples, 32, np.random.default_rng(3))
    assert out.image.shape == (64, 64, 3)
    # resized to 16x32: the box becomes 12x28; widths never crop (16 px <= the 16 px margin)
    assert len(out.boxes) == 4
    np.testing.assert_allclose(out.boxes[:, 2] - out.boxes[:, 0], [12] * 4)
    assert ((out.boxes[:, 3] - out.boxes[:, 1] <= 28) & (out.boxes[:, 3] > out.boxes[:, 1])).all()
    for x0, y0, x1, y1 in out.boxes.astype(int):
        inside = out.image[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1].reshape(-1, 3)
        assert (np.abs(inside.astype(int) - PALETTE[0]).max(axis=1) <= 90).all()
    assert (out.image == A.PAD_VALUE).all(axis=2).sum() >= 64 * 64 - 4 * 16 * 32
    with pytest.raises(ValueError, match="4 samples"):
        A.mosaic4(samples[:3], 32, np.random.default_rng(0))


@pytest.mark.parametrize("seed", range(6))
def test_ignore_regions_follow_boxes_and_skip_the_size_rule(seed):
    rng = np.random.default_rng(seed)
    boxes = [[10, 10, 30, 30], [40, 40, 41, 41]]  # the second is too small to train on
    sample = _sample(64, 48, boxes, ignore=boxes)
    out, _ = A.letterbox(sample, 64)
    assert out.classes.tolist() == [0]
    np.testing.assert_allclose(out.ignore, out.boxes.tolist() + [[48, 40, 49, 41]])
    out, _ = A.random_affine(out, rng, scale=0.3, translate=0.1)
    out = A.hflip(out)
    np.testing.assert_allclose(out.ignore[: len(out.boxes)], out.boxes)
    assert len(out.ignore) >= 1
    assert ((out.ignore >= 0) & (out.ignore <= 64)).all()
    assert ((out.ignore[:, 2:] - out.ignore[:, :2]) > 0).all()


def test_hsv_jitter_changes_colour_only():
    rng_image = np.random.default_rng(0)
    image = rng_image.integers(0, 256, (16, 12, 3), dtype=np.uint8)
    image[:4] = 128  # grey rows
    image[4:6] = 0  # black rows
    out = A.hsv_jitter(image, np.random.default_rng(1), 0.015, 0.7, 0.4)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out, image)
    # grey has no saturation: stays grey, only its value scales; black stays black
    assert (out[:4].max(axis=2) - out[:4].min(axis=2) <= 1).all()
    assert (out[4:6] == 0).all()
    np.testing.assert_array_equal(
        out, A.hsv_jitter(image, np.random.default_rng(1), 0.015, 0.7, 0.4)
    )
    np.testing.assert_array_equal(A.hsv_jitter(image, np.random.default_rng(1), 0, 0, 0), image)
    with pytest.raises(ValueError, match="uint8"):
        A.hsv_jitter(image.astype(np.float32), np.random.default_rng(1))


def test_sample_create_rejects_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        A.Sample.create(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        A.Sample.create(np.zeros((4, 4, 3), np.uint8), [[1, 2, 3]], [0])
    with pytest.raises(ValueError, match="classes"):
        A.Sample.create(np.zeros((4, 4, 3), np.uint8), [[0, 0, 2, 2]], [0, 1])
    empty = A.Sample.create(np.zeros((4, 4, 3), np.uint8))
    assert empty.boxes.shape == (0, 4) and empty.classes.dtype == np.int64


@pytest.mark.parametrize("shift, kept", [(-35.0, True), (-37.0, False), (-38.5, False)])
def test_warp_targets_applies_the_visibility_rule(shift, kept):
    # a 40x10 box shifted left: 5 px (12.5 %) visible is kept, 3 px (7.5 %) is not, although
    # both are wider than the 2 px minimum; the ignore region is only clipped
    sample = A.Sample.create(
        np.zeros((20, 64, 3), np.uint8), [[0, 5, 40, 15]], [3], [[0, 5, 40, 15]]
    )
    out = A.warp_targets(sample, [[1, 0, shift], [0, 1, 0]], 64, 20)
    visible = [[0, 5, 40 + shift, 15]]
    assert out.classes.tolist() == ([3] if kept else [])
    np.testing.assert_allclose(out.boxes, visible if kept else np.zeros((0, 4)))
    np.testing.assert_allclose(out.ignore, visible)


@pytest.mark.parametrize("channels", [1, 3])
def test_resize_is_detectron2s_filter_within_one_grey_level(channels):
    """The fast uint8 resize stands in for Detectron2's ResizeTransform (PIL bilinear,
    antialiased when shrinking) in training, evaluation and the Predictor: it must not drift."""
    from detectron2.data import transforms as T

    rng = np.random.default_rng(channels)
    for _ in range(12):
        (h, w), (new_h, new_w) = rng.integers(1, 200, 2), rng.integers(1, 200, 2)
        image = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
        ref = T.ResizeTransform(h, w, new_h, new_w).apply_image(image)
        ref = ref.reshape(new_h, new_w, channels)
        out = A.resize_bilinear_uint8(image, new_h, new_w)
        assert out.shape == ref.shape and out.dtype == np.uint8 and out.flags.c_contiguous
        diff = np.abs(out.astype(int) - ref.astype(int))
        assert diff.max() <= 1 and (diff == 0).mean() >= 0.7, (h, w, new_h, new_w)
    smooth = np.broadcast_to(np.arange(256, dtype=np.uint8)[:, None, None], (256, 384, channels))
    ref = T.ResizeTransform(256, 384, 100, 150).apply_image(np.ascontiguousarray(smooth))
    out = A.resize_bilinear_uint8(smooth, 100, 150)
    np.testing.assert_array_equal(out, ref.reshape(100, 150, channels))


def test_resize_keeps_every_channel_independent():
    """A 4th channel (an infrared band, say) is resized like the others, not used as alpha."""
    image = np.random.default_rng(0).integers(0, 256, (40, 60, 4), dtype=np.uint8)
    out = A.resize_bilinear_uint8(image, 20, 30)
    for c in range(4):
        alone = A.resize_bilinear_uint8(image[:, :, c : c + 1], 20, 30)
        np.testing.assert_array_equal(out[:, :, c : c + 1], alone)


def test_resize_reads_a_read_only_image_without_warning():
    image = np.zeros((40, 60, 3), np.uint8)
    image.flags.writeable = False  # as np.asarray of a PIL image
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert A.resize_bilinear_uint8(image, 20, 30).shape == (20, 30, 3)
