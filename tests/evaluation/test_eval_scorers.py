"""faster-coco-eval (the default scorer) against pycocotools (the reference) on every preset."""

import math

import numpy as np
import pytest

from prnet.evaluation import PRESETS, evaluate_coco_results


def generated_problem(seed=0, num_images=8):
    """Objects of 3-150 px in three classes with non-contiguous ids, crowd boxes, ignore regions on
    half of the images, jittered and random detections, one image with 1600 detections (over
    pycocotools' 100 and AI-TOD's 1500 per class)."""
    rng = np.random.default_rng(seed)
    cats = (1, 2, 5)
    gt = {"images": [], "categories": [{"id": c, "name": f"c{c}"} for c in cats], "annotations": []}
    dets = []
    for image_id in range(1, num_images + 1):
        img = {"id": image_id, "width": 400, "height": 300, "file_name": f"{image_id}.jpg"}
        if image_id % 2:
            img["ignore_regions"] = [[float(v) for v in (*rng.uniform(0, 250, 2), 80, 60)]]
        gt["images"].append(img)
        for _ in range(rng.integers(5, 30)):
            side = float(rng.choice([3, 6, 10, 14, 20, 40, 80, 150]) * rng.uniform(0.8, 1.2))
            box = [float(rng.uniform(0, 300)), float(rng.uniform(0, 220)), side, side * 0.8]
            cat = int(rng.choice(cats))
            gt["annotations"].append(
                {"id": len(gt["annotations"]) + 1, "image_id": image_id, "category_id": cat,
                 "bbox": box, "area": box[2] * box[3], "iscrowd": int(rng.random() < 0.08)}
            )  # fmt: skip
            for _ in range(rng.integers(0, 3)):
                j = rng.normal(0, 0.15 * side, 4)
                noisy = [box[0] + j[0], box[1] + j[1], abs(box[2] + j[2]) + 1, abs(box[3] + j[3]) + 1]
                dets.append({"image_id": image_id, "category_id": cat, "bbox": noisy,
                             "score": float(rng.random())})  # fmt: skip
        for _ in range(1600 if image_id == 3 else rng.integers(0, 10)):
            box = [float(v) for v in (*rng.uniform(0, 300, 2), *rng.uniform(2, 40, 2))]
            dets.append({"image_id": image_id, "category_id": int(rng.choice(cats)), "bbox": box,
                         "score": float(rng.random())})  # fmt: skip
    return gt, dets


def _assert_same(a, b, path=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    elif isinstance(a, float):
        assert abs(a - b) < 1e-6, f"{path}: {a} != {b}"
    else:
        assert a == b, path


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_faster_scorer_agrees_with_pycocotools_on_every_metric(preset):
    gt, dets = generated_problem()
    kwargs = dict(preset=preset, keep_arrays=True)
    faster = evaluate_coco_results(gt, [dict(d) for d in dets], scorer="faster", **kwargs)
    reference = evaluate_coco_results(gt, [dict(d) for d in dets], scorer="pycocotools", **kwargs)
    assert reference["scorer"] == "pycocotools"
    # VOC all-point presets need pycocotools' per-image match arrays (see prnet.evaluation.scoring)
    assert faster["scorer"] == ("pycocotools" if preset == "visdrone" else "faster")
    assert faster["metrics"]["AP50"] > 1.0  # a non-trivial case
    fa, ra = faster.pop("arrays"), reference.pop("arrays")
    faster.pop("scorer"), reference.pop("scorer")
    _assert_same(faster, reference)
    assert fa["cat_ids"] == ra["cat_ids"] == [1, 2, 5]
    for key in ("precision", "recall"):
        np.testing.assert_allclose(fa[key], ra[key], rtol=0, atol=1e-12, err_msg=key)


def test_faster_scorer_with_no_detections_and_unknown_scorer():
    gt, _ = generated_problem(num_images=2)
    report = evaluate_coco_results(gt, [], "aitod", scorer="faster")
    assert report["metrics"]["AP"] == 0.0 and report["scorer"] == "faster"
    with pytest.raises(ValueError, match="scorer must be one of"):
        evaluate_coco_results(gt, [], "coco", scorer="detectron2")
