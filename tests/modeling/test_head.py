"""Head, box decoding, task-aligned assignment and loss, on tiny hand-checkable inputs."""
import math

import pytest
import torch
from detectron2.layers import ShapeSpec

from prnet.modeling.head import (
    DenseHead,
    DetectionLoss,
    TaskAlignedAssigner,
    dfl_to_distances,
    distances_to_boxes,
    distribution_focal_loss,
    make_points,
)


def test_make_points_are_cell_centres_level_by_level():
    feats = [torch.zeros(1, 1, 2, 3), torch.zeros(1, 1, 1, 2)]
    points, strides = make_points(feats, [4, 8])
    expected = [[2, 2], [6, 2], [10, 2], [2, 6], [6, 6], [10, 6], [4, 4], [12, 4]]
    torch.testing.assert_close(points, torch.tensor(expected, dtype=torch.float32))
    torch.testing.assert_close(strides, torch.tensor([4.0] * 6 + [8.0] * 2))


def test_dfl_decoding_recovers_a_known_box():
    reg_max = 16
    logits = torch.full((1, 4 * reg_max), -1e4)
    for side, d in enumerate((1, 2, 3, 4)):  # one-hot distributions at distances 1..4
        logits[0, side * reg_max + d] = 1e4
    distances = dfl_to_distances(logits, reg_max)
    torch.testing.assert_close(distances, torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    boxes = distances_to_boxes(distances, torch.tensor([[10.0, 20.0]]), torch.tensor([8.0]))
    torch.testing.assert_close(boxes, torch.tensor([[2.0, 4.0, 34.0, 52.0]]))


def test_head_shapes_and_bias_init():
    shapes = [ShapeSpec(channels=c, stride=s) for c, s in ((16, 4), (32, 8), (64, 16))]
    head = DenseHead(shapes, num_classes=5)
    feats = [torch.randn(2, c, 16 // (s // 4), 8 // (s // 4)) for c, s in ((16, 4), (32, 8), (64, 16))]
    box, cls = head(feats)
    assert box.shape == (2, 16 * 8 + 8 * 4 + 4 * 2, 64) and cls.shape == (2, 168, 5)
    assert head.box_branches[0][-1].bias.eq(1.0).all()
    assert head.cls_branches[1][-1].bias[0].item() == pytest.approx(math.log(5 / 5 / (640 / 8) ** 2))


def _grid(n=8, stride=4.0):
    ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    return torch.stack(((xs.flatten() + 0.5) * stride, (ys.flatten() + 0.5) * stride), -1)


def test_assigner_picks_points_inside_the_box_and_soft_targets():
    points = _grid()  # 64 points, stride 4, image 32x32
    gt = torch.tensor([[4.0, 4.0, 12.0, 12.0]])  # contains the centres (6,6), (10,6), (6,10), (10,10)
    pred_boxes = torch.cat((points - 4, points + 4), -1)  # 8x8 boxes around every point
    scores = torch.full((64, 3), 0.5)
    inside = {(6.0, 6.0), (10.0, 6.0), (6.0, 10.0), (10.0, 10.0)}
    # The best-aligned point gets its overlap as target. All four tie: an 8x8 box 2 px off the 8x8
    # gt in x and y overlaps it by 6x6 (IoU 36 / 92); CIoU also subtracts the squared centre
    # distance (2^2 + 2^2) over the squared diagonal of the enclosing 10x10 box.
    best_iou = 36 / (64 + 64 - 36)
    for overlap, best in (("iou", best_iou), ("ciou", best_iou - 8 / 200)):
        assigner = TaskAlignedAssigner(topk=10, overlap=overlap)
        a = assigner(scores, pred_boxes, points, gt, torch.tensor([2]))
        assert {tuple(p.tolist()) for p in points[a.foreground]} == inside
        assert a.scores[:, [0, 1]].eq(0).all()
        assert a.scores[a.foreground, 2].max().item() == pytest.approx(best, rel=1e-4)
        torch.testing.assert_close(a.boxes[a.foreground], gt.expand(4, 4))


def test_assigner_aligns_with_ciou_by_default():
    """The recipe ranks candidates by CIoU, not IoU: a box with a slightly higher IoU but its centre
    2.2 px off loses to a concentric box (CIoU = IoU there)."""
    gt = torch.tensor([[0.0, 0.0, 8.0, 8.0]])
    points = torch.tensor([[2.0, 2.0], [6.0, 6.0]])  # both inside the gt box
    pred_boxes = torch.tensor([[2.2, 0.0, 10.2, 8.0], [1.0, 1.0, 7.0, 7.0]])
    iou_shifted, iou_centred = 46.4 / 81.6, 36 / 64  # 0.569 > 0.5625
    ciou_shifted = iou_shifted - 2.2**2 / (10.2**2 + 8**2)  # 0.540 < 0.5625
    assert iou_shifted > iou_centred > ciou_shifted
    scores = torch.full((2, 1), 0.5)
    classes = torch.tensor([0])
    assert TaskAlignedAssigner().overlap == "ciou"
    by_ciou = TaskAlignedAssigner(topk=1)(scores, pred_boxes, points, gt, classes)
    by_iou = TaskAlignedAssigner(topk=1, overlap="iou")(scores, pred_boxes, points, gt, classes)
    assert by_ciou.foreground.tolist() == [False, True]
    assert by_iou.foreground.tolist() == [True, False]
    assert by_ciou.scores[1, 0].item() == pytest.approx(iou_centred, rel=1e-5)
    assert by_iou.scores[0, 0].item() == pytest.approx(iou_shifted, rel=1e-5)


def test_assigner_ciou_overlap_is_clamped_at_zero():
    """A candidate whose predicted box misses the gt has negative CIoU; the recipe clamps it to 0,
    so its alignment (and soft target) is 0 rather than NaN from a negative power."""
    gt = torch.tensor([[0.0, 0.0, 8.0, 8.0]])
    points = torch.tensor([[4.0, 4.0]])
    pred_boxes = torch.tensor([[20.0, 20.0, 24.0, 24.0]])
    scores = torch.full((1, 1), 0.9)
    a = TaskAlignedAssigner(topk=1)(scores, pred_boxes, points, gt, torch.tensor([0]))
    assert torch.isfinite(a.scores).all() and a.scores.eq(0).all()
    with pytest.raises(ValueError, match="overlap"):
        TaskAlignedAssigner(overlap="giou")


def test_assigner_resolves_contested_points_by_overlap_and_handles_empty_gt():
    points = _grid()
    pred_boxes = torch.cat((points - 4, points + 4), -1)
    scores = torch.full((64, 2), 0.5)
    gts = torch.tensor([[0.0, 0.0, 16.0, 16.0], [0.0, 0.0, 9.0, 9.0]])
    a = TaskAlignedAssigner(topk=4)(scores, pred_boxes, points, gts, torch.tensor([0, 1]))
    # (2,2) and (6,6) lie in both boxes; each goes to the box its predicted box overlaps most.
    idx = {tuple(p.tolist()): i for i, p in enumerate(points)}
    assert a.foreground[idx[(2.0, 2.0)]] and a.foreground[idx[(6.0, 6.0)]]
    assert (a.scores[a.foreground] > 0).sum(1).eq(1).all()  # one class per point
    empty = TaskAlignedAssigner()(scores, pred_boxes, points, torch.zeros(0, 4), torch.zeros(0).long())
    assert not empty.foreground.any() and empty.scores.eq(0).all()


def test_distribution_focal_loss_is_minimal_at_the_target():
    target = torch.tensor([[1.25, 0.0, 3.0, 2.5]])
    exact = torch.full((1, 4, 8), -1e4)
    for side, t in enumerate(target[0].tolist()):
        lo = int(t)
        exact[0, side, lo] = math.log(max(1 - (t - lo), 1e-12))
        exact[0, side, lo + 1] = math.log(max(t - lo, 1e-12))
    best = distribution_focal_loss(exact, target)
    worse = distribution_focal_loss(torch.zeros(1, 4, 8), target)
    # At the optimum the loss is the entropy of the two-bin split: H(.25) + 0 + 0 + H(.5) over 4 sides.
    h = lambda p: -(p * math.log(p) + (1 - p) * math.log(1 - p))  # noqa: E731
    assert best.item() == pytest.approx((h(0.25) + h(0.5)) / 4, abs=1e-4)
    assert worse.item() > best.item()


def test_detection_loss_keys_gains_and_no_positive_case():
    loss = DetectionLoss(reg_max=4, box_gain=7.5, cls_gain=0.5, dfl_gain=1.5)
    n, c = 6, 3
    args = dict(
        cls_logits=torch.zeros(n, c, requires_grad=True),
        box_logits=torch.zeros(n, 16, requires_grad=True),
        pred_boxes=torch.tensor([[0.0, 0.0, 4.0, 4.0]]).repeat(n, 1),
        points=torch.full((n, 2), 2.0),
        strides=torch.full((n,), 4.0),
        foreground=torch.zeros(n, dtype=torch.bool),
        target_boxes=torch.zeros(n, 4),
        target_scores=torch.zeros(n, c),
    )
    out = loss(**args)
    assert set(out) == {"loss_prnet_cls", "loss_prnet_box", "loss_prnet_dfl"}
    # No positives: BCE(0 logits, 0 targets) = log 2 per entry, normaliser 1, gain 0.5.
    assert out["loss_prnet_cls"].item() == pytest.approx(0.5 * n * c * math.log(2), rel=1e-5)
    assert out["loss_prnet_box"].item() == 0 and out["loss_prnet_dfl"].item() == 0
    sum(out.values()).backward()
    assert args["box_logits"].grad is not None  # graph stays connected (DDP)

    args["foreground"] = torch.tensor([True] + [False] * (n - 1))
    args["target_boxes"] = torch.tensor([[0.0, 0.0, 4.0, 4.0]]).repeat(n, 1)
    args["target_scores"] = torch.zeros(n, c)
    args["target_scores"][0, 1] = 1.0
    out = loss(**args)
    assert out["loss_prnet_box"].item() == pytest.approx(0.0, abs=1e-6)  # perfect box, CIoU loss 0
    assert out["loss_prnet_dfl"].item() > 0  # uniform distributions are not the target
