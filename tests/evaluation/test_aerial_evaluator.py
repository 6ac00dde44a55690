"""``AerialEvaluator`` through Detectron2's DatasetEvaluator API on a tiny registered dataset."""

import json
import math
import uuid

import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import Boxes, Instances

from prnet.data.datasets.coco import register_coco_with_ignore
from prnet.evaluation import AerialEvaluator, evaluate_coco_results, flat_metrics

# Non-contiguous json ids on purpose: the model predicts 0 (car) and 1 (truck).
GT = {
    "images": [
        {
            "id": 1,
            "file_name": "a.jpg",
            "height": 100,
            "width": 120,
            "ignore_regions": [[0, 0, 40, 40]],
        },
        {"id": 2, "file_name": "b.jpg", "height": 100, "width": 120},
    ],
    "categories": [{"id": 3, "name": "car"}, {"id": 7, "name": "truck"}],
    "annotations": [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 3,
            "bbox": [60, 60, 20, 10],
            "area": 200,
            "iscrowd": 0,
        },
        {
            "id": 2,
            "image_id": 1,
            "category_id": 3,
            "bbox": [5, 5, 10, 10],
            "area": 100,
            "iscrowd": 0,
        },
        {
            "id": 3,
            "image_id": 2,
            "category_id": 7,
            "bbox": [10, 20, 30, 20],
            "area": 600,
            "iscrowd": 0,
        },
    ],
}


@pytest.fixture
def dataset(tmp_path):
    json_file = tmp_path / "gt.json"
    json_file.write_text(json.dumps(GT))
    name = f"prnet_test_eval_{uuid.uuid4().hex}"
    register_coco_with_ignore(name, {}, str(json_file), str(tmp_path))
    yield name, str(json_file)
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def instances(boxes_xyxy, scores, classes, size=(100, 120)):
    inst = Instances(size)
    inst.pred_boxes = Boxes(torch.tensor(boxes_xyxy, dtype=torch.float32).reshape(-1, 4))
    inst.scores = torch.tensor(scores, dtype=torch.float32)
    inst.pred_classes = torch.tensor(classes, dtype=torch.int64)
    return {"instances": inst}


def inputs(image_id):
    return [{"image_id": image_id, "height": 100, "width": 120, "file_name": f"{image_id}.jpg"}]


def run(evaluator, image2_outputs):
    evaluator.reset()
    # image 1: the car exactly, plus a higher-scored FP inside the ignore region
    evaluator.process(
        inputs(1), [instances([[60, 60, 80, 70], [2, 2, 12, 12]], [0.8, 0.9], [0, 1])]
    )
    evaluator.process(inputs(2), [image2_outputs])
    return evaluator.evaluate()


def test_visdrone_preset_through_dataset_evaluator(dataset, tmp_path):
    name, json_file = dataset
    out_dir = tmp_path / "eval"
    evaluator = AerialEvaluator(name, "visdrone", output_dir=str(out_dir))
    results = run(evaluator, instances([[10, 20, 40, 40]], [0.7], [1]))["bbox"]
    assert results["AP"] == 100.0 and results["AP-car"] == 100.0 and results["AP-truck"] == 100.0

    saved = json.loads((out_dir / "coco_instances_results.json").read_text())
    assert sorted(r["category_id"] for r in saved) == [3, 7, 7]  # json ids, not 0/1
    assert saved[0]["bbox"] == [60.0, 60.0, 20.0, 10.0]  # XYWH
    expected = flat_metrics(evaluate_coco_results(json_file, saved, "visdrone"))
    assert dict(results) == expected

    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["preset"] == "visdrone"
    assert metrics["metrics"] == {k: v for k, v in results.items() if not k.startswith("AP-")}
    assert [(r["name"], r["num_gt"], r["AP"]) for r in metrics["per_class"]] == [
        ("car", 1, 100.0),
        ("truck", 1, 100.0),
    ]


def test_coco_preset_images_without_detections_count(dataset, tmp_path):
    name, _ = dataset
    DatasetCatalog.get(name)  # fills thing_dataset_id_to_contiguous_id in the metadata
    assert MetadataCatalog.get(name).thing_dataset_id_to_contiguous_id == {3: 0, 7: 1}
    evaluator = AerialEvaluator(name, "coco", output_dir=str(tmp_path / "coco"))
    results = run(evaluator, instances([], [], []))["bbox"]
    # coco: no ignore filter -> the car in the region is missed (recall 1/2 at precision 1);
    # the truck's image was processed with no detection -> 0
    assert results["AP-car"] == pytest.approx(100 * 51 / 101)
    assert results["AP-truck"] == 0.0
    assert math.isnan(results["APm"]) and math.isnan(results["APl"])
    metrics = json.loads((tmp_path / "coco" / "metrics.json").read_text())
    assert metrics["metrics"]["APm"] is None  # NaN is written as null


def test_errors(dataset):
    name, _ = dataset
    evaluator = AerialEvaluator(name, "aitod", distributed=False)
    assert evaluator.evaluate() == {}  # nothing processed
    evaluator.process(inputs(1), [instances([[0, 0, 5, 5]], [0.5], [2])])
    with pytest.raises(ValueError, match="class 2"):
        evaluator.evaluate()
    bare = f"prnet_test_bare_{uuid.uuid4().hex}"
    DatasetCatalog.register(bare, lambda: [])
    try:
        with pytest.raises(ValueError, match="json_file"):
            AerialEvaluator(bare)
    finally:
        DatasetCatalog.remove(bare)
        MetadataCatalog.remove(bare)
    with pytest.raises(ValueError, match="allowed"):
        AerialEvaluator(name, "pascal")
