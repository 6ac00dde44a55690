"""YOLODatasetMapper: output contract, targets, reproducibility, cross-worker mosaic switch."""

from __future__ import annotations

import copy
import os
import pickle

import cloudpickle
import cv2
import numpy as np
import pytest
import torch
from detectron2.data.build import trivial_batch_collator
from detectron2.data.common import DatasetFromList, MapDataset
from detectron2.data.detection_utils import SizeMismatchError
from detectron2.structures import BoxMode

from prnet.data.mapper import YOLODatasetMapper, build_yolo_train_loader

W, H = 64, 48
RED = (255, 0, 0)


def _record(path, image_id: int, annotations=None, ignore=None) -> dict:
    record = {"file_name": str(path), "height": H, "width": W, "image_id": image_id}
    if annotations is not None:
        record["annotations"] = annotations
    if ignore is not None:
        record["ignore_regions"] = ignore
    return record


def _anno(xywh, category_id: int, iscrowd: int = 0) -> dict:
    return {
        "bbox": xywh,
        "bbox_mode": BoxMode.XYWH_ABS,
        "category_id": category_id,
        "iscrowd": iscrowd,
    }


@pytest.fixture
def dataset(tmp_path):
    """Four 64x48 images: a red box [8, 6, 28, 26] (class 1), a crowd box, an ignore region."""
    records = []
    for i in range(4):
        image = np.full((H, W, 3), 40 * i, np.uint8)
        image[6:26, 8:28] = RED
        path = tmp_path / f"img{i}.png"
        cv2.imwrite(str(path), image[:, :, ::-1])  # cv2 writes BGR
        annos = [_anno([8, 6, 20, 20], 1), _anno([40, 30, 10, 10], 2, iscrowd=1)]
        annos += [_anno([44, 4, 12, 8], 0)] if i % 2 else []
        records.append(_record(path, i, annos, ignore=[[30.0, 30.0, 60.0, 46.0]]))
    return records


def _plain(**kwargs) -> dict:
    """Training mapper with every random step switched off: letterbox only."""
    args = dict(mosaic_prob=0.0, scale=0.0, translate=0.0, hsv=(0, 0, 0), flip_prob=0.0)
    return {**args, **kwargs}


def test_train_output_contract(dataset):
    mapper = YOLODatasetMapper(True, 64, dataset, seed=0)
    for record in dataset:
        out = mapper(record)
        assert set(out) == {
            "image",
            "instances",
            "height",
            "width",
            "image_id",
            "file_name",
            "ignore_regions",
            "mosaic",
        }
        assert out["image"].dtype == torch.uint8 and out["image"].shape == (3, 64, 64)
        assert (out["height"], out["width"]) == (64, 64)
        assert out["image_id"] == record["image_id"] and out["file_name"] == record["file_name"]
        assert out["mosaic"] is True
        inst = out["instances"]
        assert inst.image_size == (64, 64)
        assert inst.gt_boxes.tensor.dtype == torch.float32 and inst.gt_boxes.tensor.shape[1] == 4
        assert inst.gt_classes.dtype == torch.int64
        assert set(inst.gt_classes.tolist()) <= {0, 1}  # the crowd class 2 never appears
        assert ((inst.gt_boxes.tensor >= 0) & (inst.gt_boxes.tensor <= 64)).all()
        ignore = out["ignore_regions"]
        assert ignore.dtype == torch.float32 and ignore.ndim == 2 and ignore.shape[1] == 4
    assert record == dataset[-1] and "image" not in record  # the input dict is not modified


def test_train_letterbox_targets_and_rgb(dataset):
    out = YOLODatasetMapper(True, 64, **_plain())(dataset[1])
    # 64x48 -> already 64 wide, padded 8 px top and bottom
    boxes = out["instances"].gt_boxes.tensor
    torch.testing.assert_close(
        boxes, torch.tensor([[8.0, 14.0, 28.0, 34.0], [44.0, 12.0, 56.0, 20.0]])
    )
    assert out["instances"].gt_classes.tolist() == [1, 0]
    torch.testing.assert_close(out["ignore_regions"], torch.tensor([[30.0, 38.0, 60.0, 54.0]]))
    assert out["image"][:, 20, 15].tolist() == list(RED)  # RGB channel order
    assert (out["image"][:, :8] == 114).all() and out["mosaic"] is False


def test_train_flip_mirrors_targets(dataset):
    out = YOLODatasetMapper(True, 64, **_plain(flip_prob=1.0))(dataset[0])
    torch.testing.assert_close(out["instances"].gt_boxes.tensor, torch.tensor([[36.0, 14, 56, 34]]))
    torch.testing.assert_close(out["ignore_regions"], torch.tensor([[4.0, 38, 34, 54]]))
    assert out["image"][:, 20, 64 - 16].tolist() == list(RED)


def test_inference_resizes_long_side_without_padding(dataset):
    out = YOLODatasetMapper(False, 32)(dataset[0])
    assert out["image"].shape == (3, 24, 32) and out["image"].dtype == torch.uint8
    assert (out["height"], out["width"]) == (H, W)  # original size, to rescale predictions
    assert "instances" not in out and out["mosaic"] is False
    torch.testing.assert_close(out["ignore_regions"], torch.tensor([[15.0, 15.0, 30.0, 23.0]]))


def test_inference_needs_no_annotations(dataset):
    record = {k: v for k, v in dataset[2].items() if k not in ("annotations", "ignore_regions")}
    out = YOLODatasetMapper(False, 64)(record)
    assert out["image"].shape == (3, 48, 64) and out["ignore_regions"].shape == (0, 4)


def test_empty_annotations(dataset):
    record = _record(dataset[0]["file_name"], 9, annotations=[])
    for mosaic_prob in (0.0, 1.0):
        mapper = YOLODatasetMapper(True, 64, [record], mosaic_prob=mosaic_prob, seed=1)
        out = mapper(record)
        assert len(out["instances"]) == 0
        assert out["instances"].gt_boxes.tensor.shape == (0, 4)
        assert out["ignore_regions"].shape == (0, 4)


def test_same_seed_same_samples(dataset):
    def run(seed):
        mapper = YOLODatasetMapper(True, 64, dataset, mosaic_prob=0.5, seed=seed)
        return [mapper(r) for r in dataset + dataset]

    first, again, other = run(7), run(7), run(8)
    for a, b in zip(first, again):
        torch.testing.assert_close(a["image"], b["image"])
        torch.testing.assert_close(a["instances"].gt_boxes.tensor, b["instances"].gt_boxes.tensor)
        assert a["mosaic"] == b["mosaic"]
    assert any(not torch.equal(a["image"], b["image"]) for a, b in zip(first, other))
    # successive calls on the same record differ (the counter advances)
    assert not torch.equal(first[0]["image"], first[4]["image"])


def test_bad_input_errors(dataset):
    with pytest.raises(ValueError, match="dataset"):
        YOLODatasetMapper(True, 64)(dataset[0])  # mosaic on, no dataset to draw partners from
    with pytest.raises(ValueError, match="positive"):
        YOLODatasetMapper(True, 0)
    with pytest.raises(ValueError, match="flip_prob"):
        YOLODatasetMapper(True, 64, flip_prob=2.0)
    with pytest.raises(SizeMismatchError):
        YOLODatasetMapper(False, 64)({**dataset[0], "width": 10})


def _loader(dataset, mapper, context=None):
    return torch.utils.data.DataLoader(
        MapDataset(DatasetFromList(dataset), mapper),  # as Detectron2 wraps it (cloudpickled)
        batch_size=2,
        num_workers=2,
        collate_fn=trivial_batch_collator,
        persistent_workers=True,
        multiprocessing_context=context,
    )


SLOW = pytest.mark.skipif(not os.environ.get("PRNET_SLOW_TESTS"), reason="set PRNET_SLOW_TESTS=1")


@pytest.mark.parametrize("context", ["fork", pytest.param("spawn", marks=SLOW)])  # spawn: ~20 s
def test_mosaic_switch_reaches_workers(dataset, context):
    mapper = YOLODatasetMapper(True, 64, dataset, seed=0)
    loader = _loader(dataset, mapper, context)
    first = [x["mosaic"] for batch in loader for x in batch]
    mapper.set_mosaic(False)  # workers are persistent: they hold copies made before this call
    assert not mapper.mosaic_enabled
    second = [x["mosaic"] for batch in loader for x in batch]
    assert first == [True] * 4 and second == [False] * 4
    mapper.set_mosaic(True)
    assert [x["mosaic"] for batch in loader for x in batch] == [True] * 4


def test_mosaic_switch_survives_cloudpickle_and_deepcopy(dataset):
    # what spawned workers get: Detectron2's MapDataset cloudpickles the mapper
    mapper = YOLODatasetMapper(True, 64, dataset, seed=0)
    clone = pickle.loads(cloudpickle.dumps(mapper))
    twin = copy.deepcopy(mapper)
    mapper.set_mosaic(False)
    assert not clone.mosaic_enabled and not twin.mosaic_enabled
    assert clone(dataset[0])["mosaic"] is False
    clone.set_mosaic(True)
    assert mapper.mosaic_enabled and twin.mosaic_enabled


def test_build_yolo_train_loader(dataset):
    mapper = YOLODatasetMapper(True, 64, seed=0)
    loader = build_yolo_train_loader(dataset, mapper=mapper, total_batch_size=2, num_workers=0)
    assert loader.mapper is mapper and len(mapper.dataset) == 4
    batch = next(iter(loader))
    assert len(batch) == 2 and all(x["image"].shape == (3, 64, 64) for x in batch)
    assert all(x["mosaic"] for x in batch)
    with pytest.raises(TypeError, match="YOLODatasetMapper"):
        build_yolo_train_loader(dataset, mapper=lambda d: d, total_batch_size=2)
