import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prnet.evaluation import covered_fraction, drop_ignored


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
def test_matches_a_pixel_raster_on_integer_boxes(regions, boxes):
    mask = np.zeros((50, 50), dtype=bool)  # [y, x], one cell per pixel
    for x, y, w, h in regions:
        mask[y : y + h, x : x + w] = True
    expected = [mask[y : y + h, x : x + w].sum() / (w * h) for x, y, w, h in boxes]
    np.testing.assert_allclose(covered_fraction(boxes, regions), expected, rtol=1e-12)
