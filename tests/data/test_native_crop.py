"""Native-resolution random crops (prnet.data.augment.native_crop, YOLODatasetMapper(crop_size=...))
on a generated 2000x1500 frame with 10 px objects at known places."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from detectron2.config import LazyConfig, instantiate
from detectron2.structures import BoxMode

from prnet.data import augment as A
from prnet.data.mapper import YOLODatasetMapper
from prnet.utils.testing import repo_root

W, H, OBJ = 2000, 1500, 10
# two objects near the top-left corner, one near the bottom-right: rarely in a uniform crop
CORNERS = [(100, 100), (130, 120), (1900, 1400)]
IGNORE = [90.0, 90.0, 400.0, 300.0]


def _frame() -> tuple[np.ndarray, np.ndarray]:
    image = np.full((H, W, 3), 30, np.uint8)
    boxes = np.array([[x, y, x + OBJ, y + OBJ] for x, y in CORNERS], np.float32)
    for x0, y0, x1, y1 in boxes.astype(int):
        image[y0:y1, x0:x1] = 255
    return image, boxes


@pytest.fixture(scope="module")
def frame_record(tmp_path_factory):
    image, boxes = _frame()
    path = tmp_path_factory.mktemp("native") / "frame.png"
    cv2.imwrite(str(path), image[:, :, ::-1])
    annos = [
        {"bbox": b.tolist(), "bbox_mode": BoxMode.XYXY_ABS, "category_id": i, "iscrowd": 0}
        for i, b in enumerate(boxes)
    ]
    return {"file_name": str(path), "height": H, "width": W, "image_id": 1,
            "annotations": annos, "ignore_regions": [IGNORE]}  # fmt: skip


def _mapper(record, seed, **kwargs) -> YOLODatasetMapper:
    args = dict(mosaic_prob=0.0, scale=0.0, translate=0.0, hsv=(0, 0, 0), flip_prob=0.0)
    args.update(crop_size=640, crop_object_prob=1.0, seed=seed, dataset=[record])
    args.update(kwargs)
    return YOLODatasetMapper(True, 640, **args)


def test_crop_is_the_frame_at_native_scale():
    image, boxes = _frame()
    sample = A.Sample.create(image, boxes, np.arange(3))
    for seed in range(5):
        out, matrix = A.native_crop(sample, 640, np.random.default_rng(seed), object_prob=1.0)
        x0, y0 = int(-matrix[0, 2]), int(-matrix[1, 2])
        assert out.image.shape == (640, 640, 3)
        np.testing.assert_array_equal(out.image, image[y0 : y0 + 640, x0 : x0 + 640])
        assert len(out.boxes) >= 1
        np.testing.assert_allclose(out.boxes[:, 2:] - out.boxes[:, :2], OBJ)
        inside = (boxes[:, 0] >= x0) & (boxes[:, 2] <= x0 + 640)
        inside &= (boxes[:, 1] >= y0) & (boxes[:, 3] <= y0 + 640)
        np.testing.assert_allclose(out.boxes, boxes[inside] - [x0, y0, x0, y0])


def test_frame_smaller_than_crop_is_padded_not_scaled():
    image = np.full((300, 500, 3), 50, np.uint8)
    sample = A.Sample.create(image, [[10, 20, 20, 30]], [0])
    out, matrix = A.native_crop(sample, 640, np.random.default_rng(0), pad_value=114)
    x0, y0 = int(-matrix[0, 2]), int(-matrix[1, 2])
    assert -140 <= x0 <= 0 and -340 <= y0 <= 0
    np.testing.assert_array_equal(out.image[-y0 : -y0 + 300, -x0 : -x0 + 500], image)
    assert (out.image == 114).sum() == 3 * (640 * 640 - 300 * 500)
    np.testing.assert_allclose(out.boxes, [[10 - x0, 20 - y0, 20 - x0, 30 - y0]])


def test_border_cut_boxes_follow_the_mosaic_rule():
    """Many boxes of varied size in a small image: what a crop keeps is exactly the minimum box
    rule written out by hand (clipped side >= 2 px, >= 10 % of the area left)."""
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 110, size=(300, 2))
    wh = rng.uniform(1, 12, size=(300, 2))
    boxes = np.concatenate([xy, np.minimum(xy + wh, 120)], 1).astype(np.float32)
    sample = A.Sample.create(np.zeros((120, 120, 3), np.uint8), boxes, np.arange(300))
    cut_kept = cut_dropped = 0
    for seed in range(20):
        out, matrix = A.native_crop(sample, 64, np.random.default_rng(seed), object_prob=0.5)
        moved = boxes + np.tile(matrix[:, 2], 2)
        clipped = moved.clip(0, 64)
        w, h = clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
        area = (moved[:, 2] - moved[:, 0]) * (moved[:, 3] - moved[:, 1])
        keep = (w >= 2) & (h >= 2) & (w * h >= 0.1 * area)
        np.testing.assert_array_equal(out.classes, np.flatnonzero(keep))
        np.testing.assert_allclose(out.boxes, clipped[keep], atol=1e-4)
        cut = (moved < 0).any(1) | (moved > 64).any(1)
        cut_kept += int((cut & keep).sum())
        cut_dropped += int((cut & ~keep & (w * h > 0)).sum())
    assert cut_kept > 10 and cut_dropped > 10  # both sides of the rule were exercised


def test_object_bias_finds_objects_far_more_often_than_uniform():
    _, boxes = _frame()

    def hit_rate(object_prob: float) -> float:
        hits = 0
        for seed in range(200):
            x0, y0 = A.crop_window(W, H, 640, np.random.default_rng(seed), boxes, object_prob)
            hits += bool(((boxes[:, 0] >= x0) & (boxes[:, 2] <= x0 + 640)
                          & (boxes[:, 1] >= y0) & (boxes[:, 3] <= y0 + 640)).any())  # fmt: skip
        return hits / 200

    uniform, biased = hit_rate(0.0), hit_rate(0.8)
    assert uniform < 0.1, uniform
    assert biased > 0.65, biased  # 0.8 expected (plus the uniform hits)
    # the chosen object is not always centred: crop positions vary
    starts = {A.crop_window(W, H, 640, np.random.default_rng(s), boxes[:1], 1.0) for s in range(20)}
    assert len(starts) > 10


def test_mapper_keeps_object_size_and_moves_ignore_regions(frame_record):
    shrunk = _mapper(frame_record, 0, crop_size=None)(frame_record)["instances"].gt_boxes.tensor
    np.testing.assert_allclose((shrunk[:, 2:] - shrunk[:, :2]).numpy(), OBJ * 640 / W, rtol=1e-3)
    image, boxes = _frame()
    for seed in range(4):
        out = _mapper(frame_record, seed)(frame_record)
        got = out["instances"].gt_boxes.tensor.numpy()
        assert out["image"].shape == (3, 640, 640) and len(got) >= 1
        np.testing.assert_allclose(got[:, 2:] - got[:, :2], OBJ)  # native size: 10 px stays 10 px
        # the crop's offset, from the first box kept (its class is its index in the frame)
        kept = int(out["instances"].gt_classes[0])
        ox, oy = boxes[kept, :2] - got[0, :2]
        pixels = out["image"].numpy().transpose(1, 2, 0)
        crop = image[int(oy) : int(oy) + 640, int(ox) : int(ox) + 640]
        np.testing.assert_array_equal(pixels, crop)
        expected = np.clip(np.array(IGNORE) - [ox, oy, ox, oy], 0, 640)
        if expected[2] > expected[0] and expected[3] > expected[1]:
            np.testing.assert_allclose(out["ignore_regions"].numpy(), [expected])
        else:
            assert len(out["ignore_regions"]) == 0


def test_mapper_crops_are_deterministic_per_seed(frame_record):
    a = [_mapper(frame_record, 7, crop_object_prob=0.5)(frame_record) for _ in range(2)]
    b = _mapper(frame_record, 8, crop_object_prob=0.5)
    outs_b = [b(frame_record) for _ in range(3)]
    assert (a[0]["image"] == a[1]["image"]).all()
    assert any((o["image"] != a[0]["image"]).any() for o in outs_b)


def test_each_mosaic_tile_is_a_native_crop(frame_record):
    mapper = _mapper(frame_record, 3, mosaic_prob=1.0)
    sizes = []
    for _ in range(6):  # the affine keeps the canvas's central 640 px: some tiles fall off
        out = mapper(frame_record)
        assert out["mosaic"] and out["image"].shape == (3, 640, 640)
        box = out["instances"].gt_boxes.tensor.numpy()
        sizes.append(box[:, 2:] - box[:, :2])
    sizes = np.concatenate(sizes)
    assert len(sizes) >= 3
    assert (sizes <= OBJ + 1e-4).all() and np.isclose(sizes, OBJ).all(1).mean() > 0.5


def test_bad_crop_arguments_are_rejected():
    with pytest.raises(ValueError, match="crop_size"):
        YOLODatasetMapper(True, 640, crop_size=0)
    with pytest.raises(ValueError, match="crop_object_prob"):
        YOLODatasetMapper(True, 640, crop_size=640, crop_object_prob=1.5)


def test_visdrone_native_config_crops_at_the_training_size():
    cfg = LazyConfig.load(os.path.join(repo_root(), "configs/VisDrone/prnet_s_native.py"))
    mapper = instantiate(cfg.dataloader.train.mapper)
    assert mapper.crop_size == mapper.image_size == 640 and mapper.crop_object_prob == 0.5
    cfg = LazyConfig.apply_overrides(cfg, ["dataloader.train.mapper.image_size=320"])
    assert instantiate(cfg.dataloader.train.mapper).crop_size == 320  # one number, one place
    assert cfg.dataloader.test.mapper.image_size == 1920
