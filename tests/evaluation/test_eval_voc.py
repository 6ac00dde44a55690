import pytest

from prnet.evaluation import top_k_per_image, voc_all_point_ap


def test_voc_all_point_tp_fp_tp():
    # TP, FP, TP with 2 GT: recall .5 .5 1, precision 1 .5 2/3 -> 0.5 * 1 + 0.5 * 2/3
    assert voc_all_point_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3]) == pytest.approx(0.5 + 1 / 3)


def test_voc_all_point_envelope_and_partial_recall():
    # FP, TP with 1 GT: envelope 0.5 over recall [0, 1]
    assert voc_all_point_ap([0.0, 1.0], [0.0, 0.5]) == pytest.approx(0.5)
    # recall stops at 0.25 with precision 1: area 0.25
    assert voc_all_point_ap([0.25], [1.0]) == pytest.approx(0.25)
    assert voc_all_point_ap([], []) == 0.0
    with pytest.raises(ValueError, match="equal length"):
        voc_all_point_ap([0.1, 0.2], [1.0])


def test_top_k_per_image_over_all_classes():
    results = [
        {"image_id": 1, "category_id": 1, "score": 0.1},
        {"image_id": 1, "category_id": 2, "score": 0.9},
        {"image_id": 2, "category_id": 1, "score": 0.2},
        {"image_id": 1, "category_id": 1, "score": 0.5},
        {"image_id": 1, "category_id": 3, "score": 0.5},  # tie with the row above: input order
    ]
    kept = top_k_per_image(results, 2)
    assert kept == [results[1], results[2], results[3]]
    assert top_k_per_image(results, 3) == [results[1], results[2], results[3], results[4]]
