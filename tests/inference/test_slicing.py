"""Sliced prediction. The merging logic is checked with a stub detector of known behaviour (it
finds bright rectangles, but only those at least MIN_SIDE pixels wide *in its input*, like a real
detector's resolution floor); the real PRNet path is exercised for shapes and plumbing."""
import cv2
import numpy as np
import pytest
import torch
from detectron2.config import LazyConfig, instantiate
from detectron2.structures import Boxes, Instances

from prnet.export import Backend, EagerBackend
from prnet.inference import Predictor, SlicedPredictor, merge_detections, tile_grid

MIN_SIDE = 3


class BrightBoxBackend(Backend):
    """NMS-graph-like outputs: one box per bright connected component >= MIN_SIDE px, class 0."""

    def __init__(self, max_det: int = 20):
        meta = dict(with_nms=True, outputs=["boxes", "scores", "classes", "num_detections"],
                    num_classes=1, score_thresh=0.0, nms_thresh=0.7, topk_candidates=100,
                    max_det=max_det, pixel_mean=[0.0, 0.0, 0.0])
        super().__init__(meta)

    def __call__(self, images):
        n, d = images.shape[0], self.meta["max_det"]
        boxes, scores = torch.zeros(n, d, 4), torch.zeros(n, d)
        classes, num = torch.full((n, d), -1, dtype=torch.int64), torch.zeros(n, dtype=torch.int64)
        for i, im in enumerate(images):
            mask = (im.mean(0) > 128).numpy().astype(np.uint8)
            count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
            k = 0
            for x, y, w, h, _ in stats[1:count]:
                if min(w, h) >= MIN_SIDE and k < d:
                    boxes[i, k] = torch.tensor([x, y, x + w, y + h], dtype=torch.float32)
                    scores[i, k], classes[i, k] = 0.9, 0
                    k += 1
            num[i] = k
        return {"boxes": boxes, "scores": scores, "classes": classes, "num_detections": num}


def scene(h, w, boxes):
    image = np.full((h, w, 3), 30, dtype=np.uint8)
    for x0, y0, x1, y1 in boxes:
        image[y0:y1, x0:x1] = 230
    return image


def test_tile_grid_covers_image_with_full_tiles():
    tiles = tile_grid(300, 200, 128, overlap=0.25)
    assert all(x1 - x0 == 128 and y1 - y0 == 128 for x0, y0, x1, y1 in tiles)
    covered = np.zeros((300, 200), bool)
    for x0, y0, x1, y1 in tiles:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    assert tiles[0][:2] == (0, 0) and tiles[-1][2:] == (200, 300)
    assert tile_grid(50, 60, 128) == [(0, 0, 60, 50)]


def test_object_cut_by_tile_border_becomes_one_box():
    # tiles 128 px, overlap 32 px: columns [0, 128] and [96, 224]; the object (x 80..150) is
    # cut by both, so each tile sees a part of it and no tile sees it whole.
    truth = (80, 40, 150, 70)
    image = scene(128, 224, [truth])
    sliced = SlicedPredictor(
        Predictor(BrightBoxBackend(), image_size=None), 128, overlap=0.25, full_image=False
    )
    parts = sliced.predict_tiles(image)
    assert len(parts) == 2  # two partial boxes before merging
    merged = sliced(image)
    assert len(merged) == 1
    torch.testing.assert_close(merged.pred_boxes.tensor[0], torch.tensor(truth, dtype=torch.float32))
    # class-aware NMS (IoU of the halves 0.46 < 0.5) keeps both halves: greedy merging is needed
    assert len(merge_detections(parts, "nms", 0.5)) == 2


def test_tiny_object_found_only_by_sliced_pass():
    # A 6 px object in a 512 px frame: at full-image scale (long side 128) it is 1.5 px, below
    # the detector's floor; tiles of 128 px at native resolution see it at 6 px.
    tiny, large = (300, 200, 306, 206), (40, 40, 140, 120)
    image = scene(512, 512, [tiny, large])
    predictor = Predictor(BrightBoxBackend(), image_size=128)
    full = predictor(image)
    assert len(full) == 1 and full.pred_boxes.tensor[0, 0] < 100  # only the large one
    sliced = SlicedPredictor(predictor, 128, overlap=0.2, full_image=True)(image)
    boxes = sliced.pred_boxes.tensor
    hit = (boxes - torch.tensor(tiny, dtype=torch.float32)).abs().max(1).values < 1.0
    assert hit.sum() == 1
    assert len(sliced) == 2  # the large object: tile copies and the full-image box merged


def test_merge_greedy_is_class_aware_and_sorted():
    det = Instances((100, 100))
    det.pred_boxes = Boxes(torch.tensor([[0, 0, 10, 10], [2, 2, 10, 10], [0, 0, 10, 10.0]]))
    det.scores = torch.tensor([0.5, 0.9, 0.7])
    det.pred_classes = torch.tensor([0, 0, 1])
    out = merge_detections(det, "greedy", 0.5, "ios")
    assert out.pred_classes.tolist() == [0, 1]
    assert out.scores.tolist() == pytest.approx([0.9, 0.7])
    torch.testing.assert_close(out.pred_boxes.tensor[0], torch.tensor([0, 0, 10, 10.0]))


def test_sliced_prediction_with_real_prnet():
    cfg = LazyConfig.load("configs/PRNet/prnet_n.py")
    cfg.model.num_classes = 2
    cfg.model.test_score_thresh = 0.0  # keep candidates so the plumbing carries boxes
    cfg.model.max_detections_per_image = 30
    model = instantiate(cfg.model).eval()
    image = np.random.default_rng(0).integers(0, 256, (100, 150, 3), dtype=np.uint8)
    predictor = Predictor(EagerBackend(model), image_size=64, batch_size=4)
    tiles = tile_grid(100, 150, 64, 0.25)
    sliced = SlicedPredictor(predictor, 64, 0.25, merge="nms", merge_thresh=0.7)
    raw = sliced.predict_tiles(image)
    assert len(raw) == (len(tiles) + 1) * 30  # every tile and the full image, 30 each
    out = sliced(image)
    assert out.image_size == (100, 150) and 0 < len(out) <= 30
    b = out.pred_boxes.tensor
    assert (b[:, 0] >= 0).all() and (b[:, 2] <= 150).all() and (b[:, 3] <= 100).all()
    assert (out.scores.diff() <= 0).all() and out.pred_classes.max() < 2
