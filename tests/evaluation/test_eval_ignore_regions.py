from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prnet.evaluation import covered_fraction, drop_ignored, visdrone_raster_fraction


def test_fraction_of_single_region():
    regions = [[0, 0, 50, 50]]
    boxes = [
        [10, 10, 10, 10],  # fully inside
        [40, 0, 20, 10],  # 10 of 20 columns inside
        [42, 0, 20, 10],  # 8 of 20
        [60, 60, 5, 5],  # outside
        [45, 45, 10, 10],  # 5 x 5 corner of 100
    ]
    np.testing.assert_allclose(covered_fraction(boxes, regions), [1.0, 0.5, 0.4, 0.0, 0.25])


def test_overlapping_regions_are_a_union():
    regions = [[0, 0, 10, 10], [5, 0, 10, 10]]  # union 15 x 10 = 150, sum of areas 200
    boxes = [[0, 0, 15, 10], [0, 0, 20, 10], [5, 0, 5, 10], [2.5, 2.5, 5, 5]]
    np.testing.assert_allclose(covered_fraction(boxes, regions), [1.0, 0.75, 1.0, 1.0])


def test_l_shaped_union_and_real_valued_boxes():
    # L shape: the box [0, 0, 20, 20] sees 20x5 + 5x15 = 175 of 400 px.
    regions = [[0, 0, 20, 5], [0, 5, 5, 15]]
    got = covered_fraction([[0, 0, 20, 20], [2.5, 0, 5, 10]], regions)
    # second box: rows 0..5 fully covered (5*5), rows 5..10 only x in [2.5, 5] (2.5*5)
    np.testing.assert_allclose(got, [175 / 400, (25 + 12.5) / 50])


def test_empty_inputs_and_degenerate_boxes():
    assert covered_fraction([], [[0, 0, 5, 5]]).shape == (0,)
    np.testing.assert_array_equal(covered_fraction([[1, 1, 2, 2]], []), [0.0])
    np.testing.assert_array_equal(covered_fraction([[1, 1, 0, 2]], [[0, 0, 5, 5]]), [0.0])
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        covered_fraction([[1, 2, 3]], [[0, 0, 5, 5]])


def test_drop_ignored_filters_gt_and_results_per_image():
    dataset = {
        "images": [{"id": 1, "ignore_regions": [[0, 0, 50, 50]]}, {"id": 2}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [40, 0, 20, 10]},  # 50 %: drop
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [42, 0, 20, 10]},  # 40 %: keep
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [10, 10, 10, 10]},  # no regions
        ],
    }
    results = [
        {"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.9},
        {"image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.8},
    ]
    kept_gt, kept_res = drop_ignored(dataset, results, 0.5)
    assert [a["id"] for a in kept_gt["annotations"]] == [2, 3]
    assert [r["image_id"] for r in kept_res] == [2]
    assert len(dataset["annotations"]) == 3  # input untouched


int_box = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(1, 12), st.integers(1, 12))


@settings(max_examples=40, deadline=None)
@given(st.lists(int_box, min_size=1, max_size=5), st.lists(int_box, min_size=1, max_size=4))
def test_exact_rule_matches_an_ideal_pixel_raster_on_integer_boxes(regions, boxes):
    # The exact rule equals a raster in which a region [x, y, w, h] covers w x h pixels.
    mask = np.zeros((50, 50), dtype=bool)  # [y, x], one cell per pixel
    for x, y, w, h in regions:
        mask[y : y + h, x : x + w] = True
    expected = [mask[y : y + h, x : x + w].sum() / (w * h) for x, y, w, h in boxes]
    np.testing.assert_allclose(covered_fraction(boxes, regions), expected, rtol=1e-12)


def _matlab_round(v):
    return int(Decimal(v).quantize(Decimal(1), rounding=ROUND_HALF_UP))  # exact, halves away


def _toolkit_raster(boxes, regions, width, height):
    """The official VisDrone toolkit's dropObjectsInIgr measure, pixel by pixel: 1-based pixel
    (r, c) is mask[r - 1, c - 1]; a region (values >= 1) marks rows y..min(H, y + h) and columns
    x..min(W, x + w); a box (rounded, >= 1, start clamped to the image) sums the mask over rows
    y + 1..min(H, y + h) and columns x + 1..min(W, x + w) (its integral-image corners) and
    divides by the rounded w * h."""
    mask = np.zeros((height, width), dtype=bool)
    for region in regions:
        x, y, w, h = (max(1, int(v)) for v in region)
        mask[y - 1 : min(height, y + h), x - 1 : min(width, x + w)] = True
    out = []
    for box in boxes:
        x, y, w, h = (max(1, _matlab_round(v)) for v in box)
        x, y = min(width, x), min(height, y)
        x2, y2 = min(width, x + w), min(height, y + h)
        out.append(mask[y:y2, x:x2].sum() / (w * h))
    return np.asarray(out)


def _coordinate(lo, hi):  # real values, and halves (where MATLAB and numpy rounding differ)
    return st.one_of(st.floats(lo, hi), st.integers(2 * lo, 2 * hi).map(lambda v: v / 2))


real_box = st.tuples(
    _coordinate(-2, 36), _coordinate(-2, 36), _coordinate(0, 14), _coordinate(0, 14)
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(int_box, min_size=1, max_size=5),
    st.lists(st.one_of(int_box, real_box), min_size=1, max_size=6),
    st.sampled_from([(40, 36), (33, 45), (200, 200)]),
)
def test_visdrone_raster_rule_matches_the_toolkit_raster(regions, boxes, size):
    width, height = size  # small sizes clip regions and boxes at the right and bottom
    got = visdrone_raster_fraction(boxes, regions, width, height)
    np.testing.assert_allclose(got, _toolkit_raster(boxes, regions, width, height), rtol=1e-12)


def test_visdrone_raster_grows_regions_left_and_top_and_rounds_boxes():
    region = [[10, 10, 20, 20]]  # exact: [10, 30) x [10, 30); toolkit: [9, 30) x [9, 30)
    boxes = [
        [1, 12, 17, 4],  # [1, 18): exact 8/17 = 0.47 -> kept; toolkit 9/17 = 0.53 -> dropped
        [25.6, 12, 8.6, 4],  # [25.6, 34.2): exact 4.4/8.6 = 0.51 -> dropped;
        #                      toolkit rounds to [26, 35): 4/9 = 0.44 -> kept
        [12, 1, 4, 17],  # the same as the first box on the top edge
        [12, 12, 4, 4],  # inside: both 1
        [100, 100, 5, 5],  # outside: both 0
    ]
    exact = covered_fraction(boxes, region)
    raster = visdrone_raster_fraction(boxes, region, 400, 300)
    np.testing.assert_allclose(exact, [8 / 17, 4.4 / 8.6, 8 / 17, 1, 0])
    np.testing.assert_allclose(raster, [9 / 17, 4 / 9, 9 / 17, 1, 0])
    # a region at x = 0 cannot grow to the left: the toolkit raises x to 1 and grows it right
    np.testing.assert_allclose(
        visdrone_raster_fraction([[20, 0, 4, 4], [21, 0, 4, 4]], [[0, 0, 20, 10]]), [1 / 4, 0]
    )
    # a box leaving the image: only its in-image pixels count, over its full rounded area
    np.testing.assert_allclose(
        visdrone_raster_fraction([[390, 0, 20, 10]], [[380, 0, 20, 20]], 400, 300), [0.5]
    )

    dataset = {
        "images": [{"id": 1, "width": 400, "height": 300, "ignore_regions": region}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [
            {"id": i, "image_id": 1, "category_id": 1, "bbox": b} for i, b in enumerate(boxes)
        ],
    }
    kept_exact, _ = drop_ignored(dataset, [], 0.5)
    kept_raster, _ = drop_ignored(dataset, [], 0.5, rule="visdrone_raster")
    assert [a["id"] for a in kept_exact["annotations"]] == [0, 2, 4]
    assert [a["id"] for a in kept_raster["annotations"]] == [1, 4]
    with pytest.raises(ValueError, match="ignore rule"):
        drop_ignored(dataset, [], 0.5, rule="pixels")
