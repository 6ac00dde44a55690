"""Property-based tests (hypothesis): box geometry of augment.py, a VisDrone round trip."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from prnet.data import augment as A
from prnet.data.converters import convert_visdrone

FAST = settings(max_examples=50, deadline=None)
side = st.integers(8, 96)


@st.composite
def boxes(draw, max_n=8, lo=-200.0, hi=400.0):
    """``(N, 4)`` float32 XYXY with x0 <= x1 and y0 <= y1 (possibly degenerate)."""
    n = draw(st.integers(0, max_n))
    pts = draw(arrays(np.float32, (n, 4), elements=st.floats(lo, hi, width=32)))
    return np.concatenate(
        [np.minimum(pts[:, :2], pts[:, 2:]), np.maximum(pts[:, :2], pts[:, 2:])], axis=1
    )


@st.composite
def affines(draw):
    """Zoom/translate (the augmentation's own family) with an optional axis flip."""
    sx, sy = draw(st.floats(0.2, 3.0)), draw(st.floats(0.2, 3.0))
    sx *= draw(st.sampled_from([1, -1]))
    tx, ty = draw(st.floats(-100, 100)), draw(st.floats(-100, 100))
    return np.array([[sx, 0.0, tx], [0.0, sy, ty]])


@FAST
@given(boxes(), affines(), side, side)
def test_transform_then_clip_stays_inside_image(b, matrix, width, height):
    moved = A.transform_boxes(b, matrix)
    assert (moved[:, 2] >= moved[:, 0]).all() and (moved[:, 3] >= moved[:, 1]).all()
    clipped = A.clip_boxes(moved, width, height)
    assert clipped.shape == b.shape and clipped.dtype == np.float32
    assert (clipped[:, 0::2] >= 0).all() and (clipped[:, 0::2] <= width).all()
    assert (clipped[:, 1::2] >= 0).all() and (clipped[:, 1::2] <= height).all()
    # clipping is idempotent and the kept boxes satisfy the minimum box rule
    np.testing.assert_array_equal(A.clip_boxes(clipped, width, height), clipped)
    kept = clipped[A.filter_boxes(moved, clipped)]
    assert ((kept[:, 2] - kept[:, 0]) >= A.MIN_BOX_SIZE).all()
    assert ((kept[:, 3] - kept[:, 1]) >= A.MIN_BOX_SIZE).all()


@FAST
@given(boxes(), affines(), side, side)
def test_warp_targets_output_inside_and_classes_follow(b, matrix, width, height):
    classes = np.arange(len(b))
    sample = A.Sample.create(np.zeros((4, 4, 3), np.uint8), b, classes, b)
    out = A.warp_targets(sample, matrix, width, height)
    for arr in (out.boxes, out.ignore):
        assert (arr[:, 0::2] >= 0).all() and (arr[:, 0::2] <= width).all()
        assert (arr[:, 1::2] >= 0).all() and (arr[:, 1::2] <= height).all()
    assert len(out.boxes) == len(out.classes) <= len(b)
    # classes keep their box: the kept boxes equal the moved+clipped ones at those indices
    moved = A.clip_boxes(A.transform_boxes(b, matrix), width, height)
    np.testing.assert_array_equal(out.boxes, moved[out.classes])


@FAST
@given(boxes(), side)
def test_hflip_boxes_is_an_involution(b, width):
    flipped = A.hflip_boxes(b, width)
    assert (flipped[:, 2] >= flipped[:, 0]).all()
    np.testing.assert_allclose(A.hflip_boxes(flipped, width), b, rtol=0, atol=1e-3)
    # box widths are preserved
    np.testing.assert_allclose(flipped[:, 2] - flipped[:, 0], b[:, 2] - b[:, 0], atol=1e-3)


@FAST
@given(st.integers(1, 24), st.integers(1, 24), st.integers(1, 4), st.randoms(use_true_random=False))
def test_hflip_sample_is_an_involution(height, width, channels, rnd):
    rng = np.random.default_rng(rnd.getrandbits(32))
    image = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    b = np.sort(rng.uniform(0, width, (3, 2)), axis=1)
    y = np.sort(rng.uniform(0, height, (3, 2)), axis=1)
    xyxy = np.stack([b[:, 0], y[:, 0], b[:, 1], y[:, 1]], axis=1)
    sample = A.Sample.create(image, xyxy, np.arange(3), xyxy[:1])
    once = A.hflip(sample)
    np.testing.assert_array_equal(once.image, image[:, ::-1])
    twice = A.hflip(once)
    np.testing.assert_array_equal(twice.image, image)
    np.testing.assert_allclose(twice.boxes, sample.boxes, atol=1e-4)
    np.testing.assert_allclose(twice.ignore, sample.ignore, atol=1e-4)
    np.testing.assert_array_equal(twice.classes, sample.classes)


@st.composite
def mosaic_inputs(draw):
    samples = []
    for q in range(4):
        w, h = draw(st.integers(4, 48)), draw(st.integers(4, 48))
        b = draw(boxes(max_n=4, lo=0.0, hi=float(max(w, h))))
        b = A.clip_boxes(b, w, h)
        samples.append(A.Sample.create(np.full((h, w, 3), q, np.uint8), b, np.full(len(b), q)))
    return samples, draw(st.integers(16, 48)), draw(st.integers(0, 2**32 - 1))


@FAST
@given(mosaic_inputs())
def test_mosaic_keeps_exactly_the_boxes_the_rule_keeps(inputs):
    """Recompute where each quadrant lands (same rng draw) and apply the documented rule."""
    samples, size, seed = inputs
    out = A.mosaic4(samples, size, np.random.default_rng(seed))
    assert out.image.shape == (2 * size, 2 * size, 3)
    xc, yc = (int(v) for v in np.random.default_rng(seed).uniform(0.5 * size, 1.5 * size, 2))
    expected_boxes, expected_classes = [], []
    for q, sample in enumerate(samples):
        image, matrix = A.resize_long_side(sample.image, size)
        h, w = image.shape[:2]
        matrix[:, 2] = (xc - w if q in (0, 2) else xc, yc - h if q in (0, 1) else yc)
        moved = A.transform_boxes(sample.boxes, matrix)
        clipped = A.clip_boxes(moved, 2 * size, 2 * size)
        keep = A.filter_boxes(moved, clipped)
        # the rule in words: >= MIN_BOX_SIZE px each side and >= MIN_VISIBLE of the area visible
        cw, ch = clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
        area = (moved[:, 2] - moved[:, 0]) * (moved[:, 3] - moved[:, 1])
        by_words = (cw >= A.MIN_BOX_SIZE) & (ch >= A.MIN_BOX_SIZE) & (cw * ch >= 0.1 * area)
        np.testing.assert_array_equal(keep, by_words)
        expected_boxes.append(clipped[keep])
        expected_classes.append(sample.classes[keep])
    np.testing.assert_allclose(out.boxes, np.concatenate(expected_boxes), atol=1e-4)
    np.testing.assert_array_equal(out.classes, np.concatenate(expected_classes))
    assert (out.boxes >= 0).all() and (out.boxes <= 2 * size).all()


# ------------------------------------------------------------------ converter round trip

visdrone_row = st.tuples(
    st.integers(-20, 80),  # x (may start outside the 64x48 image)
    st.integers(-20, 60),  # y
    st.integers(-3, 40),  # w (<= 0 is skipped and counted)
    st.integers(-3, 40),  # h
    st.integers(0, 1),  # score
    st.integers(0, 11),  # category
    st.integers(0, 2),  # truncation
    st.integers(0, 2),  # occlusion
)


@settings(max_examples=50, deadline=None)
@given(st.lists(visdrone_row, max_size=12))
def test_visdrone_rows_to_coco_and_back(tmp_path_factory, rows):
    root = tmp_path_factory.mktemp("vd")
    (root / "images").mkdir()
    (root / "annotations").mkdir()
    Image.new("RGB", (64, 48)).save(root / "images" / "a.jpg")
    text = "\r\n".join(",".join(str(v) for v in r) for r in rows)
    (root / "annotations" / "a.txt").write_text(text)
    coco, report = convert_visdrone(root / "images", root / "annotations")

    expected, regions = [], []
    for x, y, w, h, score, cat, trunc, occ in rows:
        if cat == 11 or w <= 0 or h <= 0:
            continue
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, 64), min(y + h, 48)
        if x1 <= x0 or y1 <= y0:
            continue
        box = (x0, y0, x1 - x0, y1 - y0)
        if cat == 0:
            regions.append(list(map(float, box)))
        else:
            expected.append((*box, score, cat, trunc, occ))
    back = [
        (*a["bbox"], 1 - a["iscrowd"], a["category_id"], a["truncation"], a["occlusion"])
        for a in coco["annotations"]
    ]
    assert back == expected  # json rows -> VisDrone rows again, in file order
    assert coco["images"][0]["ignore_regions"] == regions
    assert report.dropped["category_11_others"] == sum(r[5] == 11 for r in rows)
    # every row is accounted for: kept, a region, dropped by design, or a counted skip
    skipped = report.issues["non_positive_size"] + report.issues["zero_area_after_clip"]
    assert len(back) + len(regions) + sum(report.dropped.values()) + skipped == len(rows)
