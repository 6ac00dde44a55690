"""``evaluate_coco_results`` against pycocotools and against hand-computed values."""

import contextlib
import io
import json
import math

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from prnet.evaluation import evaluate_coco_results

approx = pytest.approx


def make_gt(anns, images=None, cats=(1,)):
    """anns: (image_id, category_id, [x, y, w, h]) or (..., iscrowd); images: {id: regions}."""
    images = images or {1: None}
    out = {
        "images": [],
        "categories": [{"id": c, "name": f"c{c}"} for c in cats],
        "annotations": [],
    }
    for image_id, regions in images.items():
        img = {"id": image_id, "width": 400, "height": 300, "file_name": f"{image_id}.jpg"}
        if regions:
            img["ignore_regions"] = regions
        out["images"].append(img)
    for i, (image_id, cat, box, *crowd) in enumerate(anns, start=1):
        out["annotations"].append(
            {
                "id": i,
                "image_id": image_id,
                "category_id": cat,
                "bbox": list(box),
                "area": box[2] * box[3],
                "iscrowd": crowd[0] if crowd else 0,
            }
        )
    return out


def det(box, score, cat=1, image_id=1):
    return {"image_id": image_id, "category_id": cat, "bbox": list(box), "score": score}


def random_problem(seed=0):
    """Six images, three categories with non-contiguous ids, sizes in every COCO bin, crowds,
    near and far detections, and one image with more than 100 detections of a class."""
    rng = np.random.default_rng(seed)
    cats = (1, 2, 5)
    anns, dets = [], []
    for image_id in range(1, 7):
        for _ in range(rng.integers(2, 9)):
            side = float(rng.choice([6, 20, 40, 80, 150]) * rng.uniform(0.8, 1.2))
            box = [float(rng.uniform(0, 200)), float(rng.uniform(0, 150)), side, side * 0.8]
            cat = int(rng.choice(cats))
            anns.append((image_id, cat, box, int(rng.random() < 0.1)))
            for _ in range(rng.integers(0, 3)):
                jitter = rng.normal(0, 0.12 * side, 4)
                noisy = [box[0] + jitter[0], box[1] + jitter[1], abs(box[2] + jitter[2]) + 1]
                noisy.append(abs(box[3] + jitter[3]) + 1)
                dets.append(det(noisy, float(rng.random()), cat, image_id))
        for _ in range(rng.integers(0, 5)):
            box = [*rng.uniform(0, 250, 2), *rng.uniform(3, 60, 2)]
            dets.append(
                det([float(v) for v in box], float(rng.random()), int(rng.choice(cats)), image_id)
            )
    for _ in range(120):
        box = [*rng.uniform(0, 300, 2), *rng.uniform(5, 30, 2)]
        dets.append(det([float(v) for v in box], float(rng.random()), 2, 3))
    return make_gt(anns, {i: None for i in range(1, 7)}, cats), dets


def test_coco_preset_reproduces_pycocotools_exactly(tmp_path):
    gt, dets = random_problem()
    gt_file, res_file = tmp_path / "gt.json", tmp_path / "res.json"
    gt_file.write_text(json.dumps(gt))
    res_file.write_text(json.dumps(dets))

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_file))
        ref = COCOeval(coco_gt, coco_gt.loadRes(str(res_file)), "bbox")
        ref.evaluate()
        ref.accumulate()
        ref.summarize()

    report = evaluate_coco_results(str(gt_file), json.loads(res_file.read_text()), "coco")
    keys = ["AP", "AP50", "AP75", "APs", "APm", "APl"]
    keys += ["AR@1", "AR@10", "AR@100", "ARs", "ARm", "ARl"]
    m = report["metrics"]
    assert list(m) == keys
    for key, stat in zip(keys, ref.stats):
        expected = stat * 100 if stat >= 0 else float("nan")
        assert m[key] == expected or (math.isnan(m[key]) and math.isnan(expected)), key
    assert 0 < m["AP"] < 100  # a real, non-trivial number
    precision = ref.eval["precision"]
    for k, row in enumerate(report["per_class"]):
        p = precision[:, :, k, 0, -1]
        assert row["AP"] == np.mean(p[p > -1]) * 100
    assert [r["id"] for r in report["per_class"]] == [1, 2, 5]
    assert report["num_images"] == 6 and report["num_detections"] == len(dets)


def test_aitod_size_bins_hand_computed():
    gt = make_gt([(1, 1, [10, 10, 4, 8]), (1, 1, [40, 40, 20, 20])])  # areas 32 (vt), 400 (s)
    dets = [
        det([40, 40, 20, 20], 0.9),  # exact on the small object
        det([10, 10, 4, 5], 0.8),  # IoU 20/32 = 0.625 with the very tiny one: 3 of 10 thresholds
    ]
    m = evaluate_coco_results(gt, dets, "aitod")["metrics"]
    assert m["APvt"] == approx(30.0)
    assert m["APs"] == approx(100.0)
    assert math.isnan(m["APt"]) and math.isnan(m["APm"])
    # "all": both TP at 3 thresholds; at 7 thresholds TP then FP, recall 1/2 -> 51 of 101 points
    assert m["AP"] == approx(100 * (3 * 101 + 7 * 51) / 1010)
    assert m["AP50"] == approx(100.0) and m["AP75"] == approx(100 * 51 / 101)
    assert m["ARvt"] == approx(30.0) and m["AR@1500"] == approx(100 * (3 * 1 + 7 * 0.5) / 10)


def test_aitod_reports_ap_at_1500_detections():
    gt = make_gt([(1, 1, [100, 100, 10, 10])])
    dets = [det([200 + i, 0, 5, 5], 1.0 - i * 0.001) for i in range(149)]  # 149 FPs first
    dets.append(det([100, 100, 10, 10], 0.5))  # the TP, 150th by score
    assert evaluate_coco_results(gt, dets, "aitod")["metrics"]["AP"] == approx(100 / 150)
    assert evaluate_coco_results(gt, dets, "coco")["metrics"]["AP"] == 0.0


def test_ignore_region_removes_detections_and_gt():
    gt = make_gt(
        [(1, 1, [100, 100, 10, 10]), (1, 1, [20, 20, 10, 10])],  # second GT inside the region
        images={1: [[0, 0, 50, 50]]},
    )
    dets = [det([10, 10, 10, 10], 0.95), det([100, 100, 10, 10], 0.9)]  # FP in the region, TP
    vis = evaluate_coco_results(gt, dets, "visdrone")
    assert vis["metrics"]["AP"] == 100.0 and vis["metrics"]["AR@500"] == 100.0
    assert vis["per_class"][0]["num_gt"] == 1 and vis["num_detections"] == 1
    assert evaluate_coco_results(gt, dets, "uavdt")["metrics"]["AP"] == approx(100.0)
    # without the filter: FP first, one GT missed -> precision 1/2 up to recall 1/2
    assert evaluate_coco_results(gt, dets, "coco")["metrics"]["AP"] == approx(50 * 51 / 101)


@pytest.mark.parametrize("crowd, expected_ap", [(1, 100.0), (0, 25.0)])
def test_score0_gt_is_neither_tp_nor_fp(crowd, expected_ap):
    gt = make_gt([(1, 1, [0, 0, 10, 10]), (1, 1, [200, 200, 20, 20], crowd)])
    # inside the crowd box: intersection over detection area 1 (plain IoU only 0.25)
    dets = [det([205, 205, 10, 10], 0.95), det([0, 0, 10, 10], 0.9)]
    report = evaluate_coco_results(gt, dets, "visdrone")
    # crowd: the first detection is ignored -> AP 100; plain GT: FP, TP over 2 GT -> 0.5 * 0.5
    assert report["metrics"]["AP"] == approx(expected_ap)
    assert report["per_class"][0]["num_gt"] == 2 - crowd


def _two_class_problem():
    gt = make_gt([(1, 1, [0, 0, 10, 10]), (1, 2, [50, 50, 10, 10])], cats=(1, 2, 3))
    dets = [
        det([100, 100, 10, 10], 0.9, cat=1),  # FP
        det([50, 50, 10, 10], 0.8, cat=2),  # TP
        det([0, 0, 10, 10], 0.7, cat=1),  # TP
        det([150, 150, 10, 10], 0.6, cat=3),  # class without GT: not averaged
    ]
    return gt, dets


def test_visdrone_caps_detections_per_image_over_all_classes():
    gt, dets = _two_class_problem()
    report = evaluate_coco_results(gt, dets, "visdrone")
    m = report["metrics"]
    # class 1: FP, TP over 1 GT -> VOC AP 0.5; class 2: 1.0; class 3 has no GT
    assert m["AP"] == 75.0 and m["AP50"] == 75.0
    assert [r["AP"] for r in report["per_class"][:2]] == [50.0, 100.0]
    assert math.isnan(report["per_class"][2]["AP"])
    # AR@1 takes the image's single best detection (a class-1 FP): recall 0 for both classes
    assert m["AR@1"] == 0.0 and m["AR@10"] == 100.0
    # pycocotools caps per class instead: class 2 keeps its TP at maxDets=1
    assert evaluate_coco_results(gt, dets, "coco")["metrics"]["AR@1"] == 50.0
    # keeping 2 detections per image drops the class-1 TP (3rd by score)
    capped = evaluate_coco_results(gt, dets, "visdrone", max_dets=2)
    assert capped["metrics"]["AP"] == 50.0 and capped["num_detections"] == 2


def test_visdrone_uses_voc_all_point_interpolation():
    gt = make_gt([(1, 1, [0, 0, 10, 10]), (1, 1, [50, 50, 10, 10])])
    dets = [det([0, 0, 10, 10], 0.9), det([100, 100, 10, 10], 0.8), det([50, 50, 10, 10], 0.7)]
    vis = evaluate_coco_results(gt, dets, "visdrone")["metrics"]
    assert vis["AP"] == approx(100 * (0.5 * 1 + 0.5 * 2 / 3))
    coco = evaluate_coco_results(gt, dets, "coco")["metrics"]
    assert coco["AP"] == approx(100 * (51 + 50 * 2 / 3) / 101)


def test_uavdt_reports_ap70():
    gt = make_gt([(1, 1, [0, 0, 10, 10]), (2, 1, [0, 0, 10, 10])], images={1: None, 2: None})
    dets = [det([0, 0, 10, 7.2], 0.9, image_id=1), det([0, 0, 10, 7.2], 0.9, image_id=2)]
    m = evaluate_coco_results(gt, dets, "uavdt")["metrics"]  # IoU 0.72: 5 of 10 thresholds
    assert m["AP70"] == approx(100.0) and m["AP75"] == 0.0
    assert m["AP"] == approx(50.0) and m["AP50"] == approx(100.0)
    low = evaluate_coco_results(gt, [{**d, "bbox": [0, 0, 10, 6.8]} for d in dets], "uavdt")
    assert low["metrics"]["AP70"] == 0.0


def test_no_detections_scores_zero_and_img_ids_restrict():
    gt = make_gt([(1, 1, [0, 0, 10, 10]), (2, 1, [0, 0, 10, 10])], images={1: None, 2: None})
    assert evaluate_coco_results(gt, [], "coco")["metrics"]["AP"] == 0.0
    assert evaluate_coco_results(gt, [], "visdrone")["metrics"]["AP"] == 0.0
    only_1 = evaluate_coco_results(gt, [det([0, 0, 10, 10], 0.9)], "coco", img_ids=[1])
    assert only_1["num_images"] == 1 and only_1["metrics"]["AP"] == approx(100.0)
    both = evaluate_coco_results(gt, [det([0, 0, 10, 10], 0.9)], "coco")
    assert both["metrics"]["AP"] == approx(100 * 51 / 101)


@pytest.mark.parametrize(
    "result, match",
    [
        (det([0, 0, 1, 1], 0.5, cat=0), "category_id 0"),
        (det([0, 0, 1, 1], 0.5, image_id=9), "image_id 9"),
        ({"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}, "score"),
        (det([0, 0, 1], 0.5), r"\[x, y, w, h\]"),
    ],
)
def test_bad_results_raise(result, match):
    gt = make_gt([(1, 1, [0, 0, 10, 10])])
    with pytest.raises(ValueError, match=match):
        evaluate_coco_results(gt, [result], "coco")
    with pytest.raises(ValueError, match="Unknown evaluation preset"):
        evaluate_coco_results(gt, [], "nope")
