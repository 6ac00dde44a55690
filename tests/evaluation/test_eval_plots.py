"""The evaluation pictures: every file written and non-empty through ``AerialEvaluator`` on a tiny
generated dataset, the confusion matrix's counts on a hand-made case, ``results.png``."""

import json
import uuid

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import Boxes, Instances
from PIL import Image

from prnet.data.datasets.coco import register_coco_with_ignore
from prnet.evaluation import AerialEvaluator
from prnet.evaluation.plots import PLOT_FILES, confusion_matrix, plot_training_curves

CATS = [{"id": 3, "name": "car"}, {"id": 7, "name": "truck"}]


def box(image_id, cat, xywh, ann_id, crowd=0):
    return {"id": ann_id, "image_id": image_id, "category_id": cat, "bbox": list(xywh),
            "area": xywh[2] * xywh[3], "iscrowd": crowd}  # fmt: skip


@pytest.fixture
def tiny_dataset(tmp_path):
    """Three 96 x 80 images with 6-12 px objects of two classes (json ids 3 and 7)."""
    rng = np.random.default_rng(0)
    gt = {"images": [], "categories": CATS, "annotations": []}
    for image_id in (1, 2, 3):
        name = f"img{image_id}.png"
        Image.fromarray(rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)).save(tmp_path / name)
        gt["images"].append({"id": image_id, "file_name": name, "height": 80, "width": 96})
        for k in range(4):
            xywh = [10.0 + 20 * k, 10.0 + 15 * k, 6.0 + 2 * k, 6.0 + k]
            gt["annotations"].append(box(image_id, 3 if k % 2 else 7, xywh, len(gt["annotations"]) + 1))
    json_file = tmp_path / "gt.json"
    json_file.write_text(json.dumps(gt))
    name = f"prnet_test_plots_{uuid.uuid4().hex}"
    register_coco_with_ignore(name, {}, str(json_file), str(tmp_path))
    yield name, gt
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def fake_outputs(gt, image_id, rng):
    """Each ground-truth box found with a little jitter, one class swapped, one false positive."""
    anns = [a for a in gt["annotations"] if a["image_id"] == image_id]
    xyxy = [[x + rng.normal(0, 0.5), y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)]
    classes = [0 if a["category_id"] == 3 else 1 for a in anns]
    classes[0] = 1 - classes[0]
    xyxy.append([60.0, 5.0, 70.0, 12.0])
    classes.append(0)
    inst = Instances((80, 96))
    inst.pred_boxes = Boxes(torch.tensor(xyxy, dtype=torch.float32))
    inst.scores = torch.linspace(0.9, 0.3, len(xyxy))
    inst.pred_classes = torch.tensor(classes)
    return [{"image_id": image_id, "height": 80, "width": 96}], [{"instances": inst}]


@pytest.mark.parametrize("preset", ["aitod", "visdrone"])
def test_every_artefact_is_written_and_non_empty(tiny_dataset, tmp_path, preset):
    name, gt = tiny_dataset
    out = tmp_path / "inference"
    evaluator = AerialEvaluator(name, preset, str(out), distributed=False)
    rng = np.random.default_rng(1)
    for image_id in (1, 2, 3):
        evaluator.process(*fake_outputs(gt, image_id, rng))
    assert evaluator.evaluate()["bbox"]["AP50"] > 50
    expected = PLOT_FILES if preset == "aitod" else [f for f in PLOT_FILES if not f.startswith("pr_")]
    for file_name in expected:
        path = out / file_name
        assert path.is_file() and path.stat().st_size > 0, file_name
        if file_name.endswith(".png"):
            with Image.open(path) as im:
                assert min(im.size) > 50
    counts = json.loads((out / "confusion_matrix.json").read_text())
    assert counts["names"] == ["car", "truck", "background"]
    # 12 objects, 3 of them found with the other class, 3 false positives
    assert np.trace(np.asarray(counts["counts"])[:2, :2]) == 9
    assert np.asarray(counts["counts"])[:2, 2].sum() == 3
    with Image.open(out / "gt_vs_pred.png") as im:  # three rows of 96 x 80 panels, side by side
        assert im.size[0] >= 2 * 96 and im.size[1] >= 3 * 80


def test_plots_can_be_switched_off(tiny_dataset, tmp_path):
    name, gt = tiny_dataset
    out = tmp_path / "inference"
    evaluator = AerialEvaluator(name, "aitod", str(out), distributed=False, plots=False)
    evaluator.process(*fake_outputs(gt, 1, np.random.default_rng(0)))
    evaluator.evaluate()
    assert (out / "metrics.json").is_file()
    assert not any((out / f).exists() for f in PLOT_FILES)


def test_confusion_matrix_counts_on_a_hand_made_case():
    gt = {
        "images": [{"id": 1, "width": 200, "height": 200},
                   {"id": 2, "width": 200, "height": 200, "ignore_regions": [[100, 100, 50, 50]]}],
        "categories": CATS,
        "annotations": [
            box(1, 3, [10, 10, 10, 10], 1),  # car A: found as car
            box(1, 3, [50, 50, 10, 10], 2),  # car B: found as truck
            box(1, 7, [80, 10, 10, 10], 3),  # truck C: only a detection below the threshold
            box(1, 7, [0, 120, 30, 30], 4, crowd=1),  # crowd: never missed, absorbs detections
            box(2, 7, [10, 10, 12, 12], 5),  # truck E: found twice as truck
            box(2, 3, [110, 110, 10, 10], 6),  # in the ignore region: dropped by 'synthetic'
        ],
    }  # fmt: skip
    dets = [
        {"image_id": 1, "category_id": 3, "bbox": [10, 10, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 7, "bbox": [51, 50, 10, 10], "score": 0.8},
        {"image_id": 1, "category_id": 7, "bbox": [80, 10, 10, 10], "score": 0.1},
        {"image_id": 1, "category_id": 3, "bbox": [170, 170, 5, 5], "score": 0.9},  # FP
        {"image_id": 1, "category_id": 3, "bbox": [5, 125, 10, 10], "score": 0.9},  # on the crowd
        {"image_id": 2, "category_id": 7, "bbox": [10, 10, 12, 12], "score": 0.9},
        {"image_id": 2, "category_id": 7, "bbox": [11, 11, 12, 12], "score": 0.95},  # duplicate: FP
        {"image_id": 2, "category_id": 3, "bbox": [112, 112, 8, 8], "score": 0.9},  # ignored
    ]
    #                 true: car truck bg     (rows: predicted car, truck, background)
    expected = np.array([[1, 0, 1],
                         [1, 1, 1],
                         [0, 1, 0]])  # fmt: skip
    got = confusion_matrix(gt, dets, [3, 7], "synthetic")
    np.testing.assert_array_equal(got, expected)
    # without the ignore-region filter the box in the region is a true positive car
    coco = confusion_matrix(gt, dets, [3, 7], "coco")
    np.testing.assert_array_equal(coco, expected + np.array([[1, 0, 0], [0, 0, 0], [0, 0, 0]]))
    # a lower threshold lets the 0.1 detection find truck C
    low = confusion_matrix(gt, dets, [3, 7], "synthetic", score_thresh=0.05)
    np.testing.assert_array_equal(low, expected + np.array([[0, 0, 0], [0, 1, 0], [0, -1, 0]]))


def test_results_png_from_training_metrics(tmp_path):
    lines = [json.dumps({"iteration": i, "total_loss": 5.0 / (i + 1), "loss_prnet_cls": 2.0 / (i + 1),
                         "lr": 0.01 * min(1, i / 5)}) for i in range(0, 40, 4)]  # fmt: skip
    lines.append(json.dumps({"iteration": 19, "bbox/AP": 10.0, "bbox/AP50": 25.0, "bbox/AP-car": 3.0}))
    lines.append('{"iteration": 40, "total_lo')  # cut by a crash
    metrics = tmp_path / "metrics.json"
    metrics.write_text("\n".join(lines))
    out = plot_training_curves(str(metrics), str(tmp_path / "results.png"))
    with Image.open(out) as im:
        assert im.size[0] > 400
    metrics.write_text("")
    with pytest.raises(ValueError, match="no training records"):
        plot_training_curves(str(metrics), str(tmp_path / "x.png"))


def test_training_curves_hook_draws_at_evaluations_and_at_the_end(tmp_path):
    from types import SimpleNamespace

    from prnet.engine.hooks import TrainingCurvesHook

    metrics, png = tmp_path / "metrics.json", tmp_path / "results.png"
    hook = TrainingCurvesHook(str(metrics), str(png), period=10)
    hook.trainer = SimpleNamespace(iter=9, max_iter=30)
    hook.after_step()  # no metrics.json yet: nothing, no error
    assert not png.exists()
    metrics.write_text(json.dumps({"iteration": 9, "total_loss": 1.0, "lr": 0.1}) + "\n")
    hook.trainer.iter = 4
    hook.after_step()  # not an evaluation iteration
    assert not png.exists()
    hook.trainer.iter = 9
    hook.after_step()
    assert png.stat().st_size > 0
    png.unlink()
    hook.after_train()
    assert png.stat().st_size > 0
