"""``evaluate_coco_results`` against pycocotools and against hand-computed values."""

import contextlib
import dataclasses
import io
import json
import math

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from prnet.evaluation import PRESETS, EvalPreset, evaluate_coco_results, per_class_table

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


@pytest.mark.parametrize("scorer,tol", [("pycocotools", 0.0), ("faster", 1e-9)])
def test_coco_preset_reproduces_pycocotools_exactly(tmp_path, scorer, tol):
    """Bit for bit with the reference scorer; faster-coco-eval's C++ accumulation differs in the
    last bits of some precision entries (measured: 2e-15 in APm here)."""
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

    results = json.loads(res_file.read_text())
    report = evaluate_coco_results(str(gt_file), results, "coco", scorer=scorer)
    keys = ["AP", "AP50", "AP75", "APs", "APm", "APl"]
    keys += ["AR@1", "AR@10", "AR@100", "ARs", "ARm", "ARl"]
    m = report["metrics"]
    assert list(m) == keys
    for key, stat in zip(keys, ref.stats):
        expected = stat * 100 if stat >= 0 else float("nan")
        assert abs(m[key] - expected) <= tol or (math.isnan(m[key]) and math.isnan(expected)), key
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


@pytest.mark.parametrize("crowd, expected_ap", [(1, 50.0), (0, 25.0)])
def test_score0_gt_is_neither_tp_nor_fp(crowd, expected_ap):
    gt = make_gt([(1, 1, [0, 0, 10, 10]), (1, 1, [200, 200, 20, 20], crowd)])
    # inside the crowd box: intersection over detection area 1 (plain IoU only 0.25)
    dets = [det([205, 205, 10, 10], 0.95), det([0, 0, 10, 10], 0.9)]
    report = evaluate_coco_results(gt, dets, "visdrone")
    # crowd: the first detection is ignored (neither TP nor FP), so precision is 1 at every
    # point; but the official VisDrone toolkit divides recall by all GT rows of the class, the
    # ignored (score-0) box included: recall 1/2 -> AP 50 (not 100).
    # plain GT: FP, then TP over 2 GT -> precision 1/2 up to recall 1/2 -> AP 25.
    assert report["metrics"]["AP"] == approx(expected_ap)
    assert report["per_class"][0]["num_gt"] == 2 - crowd
    # recall over non-ignored GT only (pycocotools / VOC): the crowd case scores 100
    pycoco_like = dataclasses.replace(PRESETS["visdrone"], recall_counts_ignored=False)
    assert evaluate_coco_results(gt, dets, pycoco_like)["metrics"]["AP"] == approx(
        100.0 if crowd else 25.0
    )


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


# --- class weighting: the official VisDrone toolkit's image-weighted class mean ------------------


def _three_class_problem():
    """Class 1 in images 1-3, class 2 in image 1, class 3 in images 2-3 (weights 3 : 1 : 2)."""
    box = [10, 10, 20, 20]
    gt = make_gt(
        [
            (1, 1, box),
            (2, 1, box),
            (3, 1, box),
            (1, 2, [100, 100, 10, 10]),
            (2, 3, [200, 100, 20, 20]),
            (3, 3, [200, 100, 20, 20]),
        ],
        images={1: None, 2: None, 3: None},
        cats=(1, 2, 3),
    )
    dets = [
        det(box, 0.9, cat=1, image_id=1),  # TP
        det([100, 100, 10, 6.2], 0.6, cat=2, image_id=1),  # IoU 0.62: TP at 0.50, 0.55, 0.60
        det(box, 0.8, cat=1, image_id=2),  # TP
        det([200, 100, 20, 20], 0.95, cat=3, image_id=2),  # TP
        det([300, 200, 20, 20], 0.7, cat=1, image_id=3),  # FP
    ]
    return gt, dets


def test_visdrone_weights_classes_by_images_hand_computed():
    gt, dets = _three_class_problem()
    report = evaluate_coco_results(gt, dets, "visdrone")
    # Per class (same at every IoU threshold unless said otherwise):
    #   class 1: TP .9, TP .8, FP .7 over 3 GT -> recall 1/3, 2/3, 2/3 at precision 1, 1, 2/3
    #            -> VOC AP 2/3; AR 2/3 (AR@1: each image's best detection; image 2's is the class-3
    #            one, so class 1 keeps TP .9 and FP .7 -> recall 1/3)
    #   class 2: TP at 3 of 10 thresholds -> AP .3, AP50 1, AP75 0; AR .3 (AR@1: image 1's best
    #            detection is class 1 -> 0)
    #   class 3: TP over 2 GT -> AP 1/2, AR 1/2 (also at AR@1)
    rows = report["per_class"]
    assert [r["AP"] for r in rows] == approx([100 * 2 / 3, 30.0, 50.0])
    assert [r["num_images"] for r in rows] == [3, 1, 2]
    assert [r["weight"] for r in rows] == approx([3 / 6, 1 / 6, 2 / 6])
    m = report["metrics"]
    # weighted 3 : 1 : 2 as the toolkit's class list [1, 1, 1, 2, 3, 3]
    assert m["AP"] == approx(100 * (3 * 2 / 3 + 0.3 + 2 * 0.5) / 6)  # 55.0
    assert m["AP50"] == approx(100 * (3 * 2 / 3 + 1 + 2 * 0.5) / 6)  # 66.67
    assert m["AP75"] == approx(100 * (3 * 2 / 3 + 0 + 2 * 0.5) / 6)  # 50.0
    assert m["AR@1"] == approx(100 * (3 * 1 / 3 + 0 + 2 * 0.5) / 6)  # 33.33
    for key in ("AR@10", "AR@100", "AR@500"):
        assert m[key] == approx(100 * (3 * 2 / 3 + 0.3 + 2 * 0.5) / 6)  # 55.0

    plain = dataclasses.replace(PRESETS["visdrone"], class_weighting="none")
    p = evaluate_coco_results(gt, dets, plain)["metrics"]
    assert p["AP"] == approx(100 * (2 / 3 + 0.3 + 0.5) / 3)  # 48.89
    assert p["AP50"] == approx(100 * (2 / 3 + 1 + 0.5) / 3)  # 72.22
    assert p["AP75"] == approx(100 * (2 / 3 + 0 + 0.5) / 3)  # 38.89
    assert p["AR@1"] == approx(100 * (1 / 3 + 0 + 0.5) / 3)  # 27.78
    assert p["AR@500"] == approx(100 * (2 / 3 + 0.3 + 0.5) / 3)  # 48.89


def test_visdrone_weights_count_scored_images_after_the_ignore_filter():
    gt = make_gt(
        [
            (1, 1, [0, 0, 10, 10]),
            (1, 3, [200, 200, 10, 10]),  # inside image 1's ignore region: dropped, not counted
            (2, 2, [50, 50, 40, 40], 1),  # class 2 holds only an ignored (crowd) box
        ],
        images={1: [[190, 190, 40, 40]], 2: None},
        cats=(1, 2, 3),
    )
    dets = [det([0, 0, 10, 10], 0.9, 1, 1), det([60, 60, 10, 10], 0.8, 2, 2)]  # TP; on the crowd
    report = evaluate_coco_results(gt, dets, "visdrone")
    rows = report["per_class"]
    # The toolkit counts class 2 (one image) and can never find a true positive for it: AP 0.
    assert [(r["num_gt"], r["num_images"], r["weight"]) for r in rows] == [
        (1, 1, 0.5),
        (0, 1, 0.5),
        (0, 0, 0.0),
    ]
    assert rows[0]["AP"] == 100.0 and rows[1]["AP"] == 0.0 and math.isnan(rows[2]["AP"])
    m = report["metrics"]
    assert m["AP"] == 50.0 and m["AP50"] == 50.0 and m["AR@500"] == 50.0
    # plain mean: class 2 still counts (AP 0: its ignored box is in the recall denominator) ...
    plain = dataclasses.replace(PRESETS["visdrone"], class_weighting="none")
    assert evaluate_coco_results(gt, dets, plain)["metrics"]["AP"] == 50.0
    # ... unless recall counts only non-ignored GT: then class 2 has none and is left out
    pycoco_like = dataclasses.replace(plain, recall_counts_ignored=False)
    assert evaluate_coco_results(gt, dets, pycoco_like)["metrics"]["AP"] == 100.0
    # weights come from the scored images only: without image 2, class 2 drops out
    only_1 = evaluate_coco_results(gt, dets, "visdrone", img_ids=[1])
    assert only_1["metrics"]["AP"] == 100.0
    assert [r["num_images"] for r in only_1["per_class"]] == [1, 0, 0]
    assert math.isnan(only_1["per_class"][1]["AP"])


@pytest.mark.parametrize("name", ["coco", "aitod", "synthetic", "uavdt"])
def test_other_presets_keep_the_plain_class_mean(name):
    assert PRESETS[name].class_weighting == "none"
    gt, dets = random_problem()
    report = evaluate_coco_results(gt, dets, name)
    aps = [r["AP"] for r in report["per_class"]]
    assert report["metrics"]["AP"] == approx(np.nanmean(aps))
    assert "weight" not in report["per_class"][0]
    assert [r["num_images"] for r in report["per_class"]] == [5, 4, 6]


def test_visdrone_mean_is_image_weighted_on_a_random_problem():
    gt, dets = random_problem()
    report = evaluate_coco_results(gt, dets, "visdrone")
    rows = report["per_class"]
    n = np.asarray([r["num_images"] for r in rows], dtype=float)  # 5, 4, 6
    for key in ("AP", "AP50", "AP75"):
        values = np.asarray([r[key] for r in rows])
        assert report["metrics"][key] == approx(np.sum(n * values) / n.sum())
    plain = dataclasses.replace(PRESETS["visdrone"], class_weighting="none")
    other = evaluate_coco_results(gt, dets, plain)
    assert other["per_class"] == [{k: v for k, v in r.items() if k != "weight"} for r in rows]
    assert other["metrics"]["AP"] == approx(np.mean([r["AP"] for r in rows]))
    assert other["metrics"]["AP"] != approx(report["metrics"]["AP"])


def test_class_weighting_is_validated_and_shown_in_the_table():
    with pytest.raises(ValueError, match="class_weighting"):
        EvalPreset(name="bad", class_weighting="classes")
    gt, dets = _three_class_problem()
    table = per_class_table(evaluate_coco_results(gt, dets, "visdrone"))
    header, _, first = table.splitlines()[:3]
    assert [c.strip() for c in header.split("|")[1:-1]] == [
        *("category", "#gt", "#img", "weight", "AP", "AP50", "AP75")
    ]
    assert [c.strip() for c in first.split("|")[1:-1]] == [
        *("c1", "3", "3", "0.500", "66.667", "66.667", "66.667")
    ]


# --- the official VisDrone toolkit's recall denominator and ignore-region raster ----------------


def test_visdrone_recall_counts_ignored_gt_hand_computed():
    gt = make_gt(
        [
            (1, 1, [0, 0, 10, 10]),  # A
            (1, 1, [50, 50, 10, 10]),  # B
            (1, 1, [200, 200, 40, 40], 1),  # C: ignored (score 0 / crowd)
        ]
    )
    dets = [
        det([0, 0, 10, 10], 0.9),  # TP on A
        det([210, 210, 10, 10], 0.8),  # inside C: ignored, neither TP nor FP
        det([300, 10, 10, 10], 0.7),  # FP
        det([50, 50, 10, 10], 0.6),  # TP on B
    ]
    # Counted detections TP, FP, TP (at every IoU threshold) -> precision 1, 1/2, 2/3.
    # Toolkit: recall over all 3 GT rows (C included): 1/3, 1/3, 2/3
    #   -> AP = 1/3 * 1 + 1/3 * 2/3 = 5/9; AR = 2/3; AR@1 (only the TP on A) = 1/3.
    m = evaluate_coco_results(gt, dets, "visdrone")["metrics"]
    assert m["AP"] == approx(100 * 5 / 9) and m["AP50"] == approx(100 * 5 / 9)
    assert m["AR@500"] == approx(100 * 2 / 3) and m["AR@1"] == approx(100 / 3)
    # Over the 2 non-ignored GT: recall 1/2, 1/2, 1 -> AP = 1/2 + 1/2 * 2/3 = 5/6; AR 1, AR@1 1/2.
    pycoco_like = dataclasses.replace(PRESETS["visdrone"], recall_counts_ignored=False)
    p = evaluate_coco_results(gt, dets, pycoco_like)["metrics"]
    assert p["AP"] == approx(100 * 5 / 6) and p["AR@500"] == approx(100.0)
    assert p["AR@1"] == approx(50.0)


def test_visdrone_uses_the_toolkit_raster_for_ignore_regions():
    # Region [10, 10, 20, 20]: the toolkit's raster covers [9, 30) x [9, 30). The first detection
    # spans x in [1, 18): exactly 8/17 = 47 % inside (kept, an FP), on the toolkit's raster
    # 9/17 = 53 % (dropped).
    gt = make_gt([(1, 1, [100, 100, 10, 10])], images={1: [[10, 10, 20, 20]]})
    dets = [det([1, 12, 17, 4], 0.9), det([100, 100, 10, 10], 0.8)]
    vis = evaluate_coco_results(gt, dets, "visdrone")
    assert vis["metrics"]["AP"] == 100.0 and vis["num_detections"] == 1  # the FP is dropped
    exact = dataclasses.replace(PRESETS["visdrone"], ignore_rule="exact")
    assert evaluate_coco_results(gt, dets, exact)["metrics"]["AP"] == approx(50.0)  # FP, TP
    # uavdt keeps the exact rule: FP then TP, precision 1/2 at every recall point
    assert evaluate_coco_results(gt, dets, "uavdt")["metrics"]["AP"] == approx(50.0)


@pytest.mark.parametrize("name", ["coco", "aitod", "synthetic", "uavdt"])
def test_other_presets_keep_exact_coverage_and_pycocotools_recall(name):
    assert PRESETS[name].ignore_rule == "exact"
    assert PRESETS[name].recall_counts_ignored is False
    vis = PRESETS["visdrone"]
    assert vis.ignore_rule == "visdrone_raster" and vis.recall_counts_ignored is True


def test_ignore_rule_and_recall_counts_ignored_are_validated():
    with pytest.raises(ValueError, match="ignore_rule"):
        EvalPreset(name="bad", ignore_rule="pixels")
    with pytest.raises(ValueError, match="recall_counts_ignored"):
        EvalPreset(name="bad", recall_counts_ignored=True)  # coco101
