"""PRNet as a Detectron2 meta architecture (a ``DenseDetector``, like ``FCOS``/``RetinaNet``)."""
from __future__ import annotations

import torch
from detectron2.config import configurable
from detectron2.layers import batched_nms
from detectron2.modeling import META_ARCH_REGISTRY, Backbone, build_backbone
from detectron2.modeling.meta_arch.dense_detector import DenseDetector
from detectron2.structures import Boxes, ImageList, Instances
from torch import nn

from ...layers import fuse_conv_bn
from ..head.assigner import TaskAlignedAssigner
from ..head.dense_head import DenseHead, dfl_to_distances, distances_to_boxes, make_points
from ..head.loss import DetectionLoss

__all__ = ["PRNetDetector", "select_detections"]


@META_ARCH_REGISTRY.register()
class PRNetDetector(DenseDetector):
    """Anchor-free dense detector with DFL boxes and task-aligned assignment (PRNet / YOLO11 head).

    Preprocessing, padding (to ``backbone.padding_constraints``) and ``Instances`` output come from
    Detectron2's ``DenseDetector``; strides come from the backbone. Inputs are RGB uint8 images
    (``pixel_std=255`` scales them to [0, 1], as in the reference).

    Args:
        backbone: e.g. ``PRN(TimmBackbone("prnet_csp_s"))``; its outputs (finest first) feed the head.
        num_classes: number of object classes.
        head: a head module; ``None`` builds :class:`DenseHead` from ``backbone.output_shape()``.
        head_channels: ``(box, class)`` branch widths of that head; ``None``: the reference's
            rule from the finest level's channels (``DenseHead.default_channels``).
        head_in_features: backbone outputs to detect on (default: all, finest first).
        reg_max: DFL bins per box side.
        assigner: task-aligned assigner (topk 10, alpha 0.5, beta 6.0 by default).
        box_loss_gain, cls_loss_gain, dfl_loss_gain: loss gains (7.5 / 0.5 / 1.5).
        test_score_thresh: drop (point, class) candidates below this score before NMS.
        test_nms_thresh: IoU threshold of the class-aware NMS.
        test_topk_candidates: at most this many candidates per image enter NMS.
        max_detections_per_image: detections kept per image after NMS (dense aerial scenes: >= 500).
    """

    @configurable
    def __init__(
        self,
        *,
        backbone: Backbone,
        num_classes: int,
        head: nn.Module | None = None,
        head_channels: tuple[int, int] | None = None,
        head_in_features: list[str] | None = None,
        reg_max: int = 16,
        assigner: TaskAlignedAssigner | None = None,
        box_loss_gain: float = 7.5,
        cls_loss_gain: float = 0.5,
        dfl_loss_gain: float = 1.5,
        test_score_thresh: float = 0.001,
        test_nms_thresh: float = 0.7,
        test_topk_candidates: int = 30000,
        max_detections_per_image: int = 500,
        pixel_mean: tuple[float, ...] = (0.0, 0.0, 0.0),
        pixel_std: tuple[float, ...] = (255.0, 255.0, 255.0),
    ):
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if head_in_features is None:
            shapes = backbone.output_shape()
            head_in_features = sorted(shapes, key=lambda f: shapes[f].stride)
        if head is None:
            shapes = backbone.output_shape()
            head = DenseHead(
                [shapes[f] for f in head_in_features], num_classes, reg_max, channels=head_channels
            )
        super().__init__(
            backbone, head, head_in_features, pixel_mean=pixel_mean, pixel_std=pixel_std
        )
        self.num_classes = num_classes
        self.reg_max = reg_max
        self.strides = [backbone.output_shape()[f].stride for f in head_in_features]
        self.assigner = assigner or TaskAlignedAssigner()
        self.loss = DetectionLoss(reg_max, box_loss_gain, cls_loss_gain, dfl_loss_gain)
        self.test_score_thresh = test_score_thresh
        self.test_nms_thresh = test_nms_thresh
        self.test_topk_candidates = test_topk_candidates
        self.max_detections_per_image = max_detections_per_image

    def fuse(self) -> "PRNetDetector":
        """Fold BatchNorm into the convs for inference (``prnet.layers.fuse_conv_bn``); returns
        the model, in eval mode. Outputs stay equal up to float rounding; it cannot train after."""
        return fuse_conv_bn(self)

    @classmethod
    def from_config(cls, cfg):
        """Build from a yacs config (``build_model(cfg)``); see ``prnet.config.add_prnet_config``."""
        p = cfg.MODEL.PRNET
        return {
            "backbone": build_backbone(cfg),
            "num_classes": p.NUM_CLASSES,
            "reg_max": p.REG_MAX,
            "test_score_thresh": p.SCORE_THRESH_TEST,
            "test_nms_thresh": p.NMS_THRESH_TEST,
            "max_detections_per_image": cfg.TEST.DETECTIONS_PER_IMAGE,
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
        }

    def decode(
        self, features: list[torch.Tensor], predictions: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Head outputs -> ``boxes (N, A, 4)`` XYXY pixels of the padded batch, ``points (A, 2)``,
        ``strides (A,)``. Also returns the per-side distances ``(N, A, 4)`` in stride units."""
        box_logits, _ = predictions
        points, strides = make_points(features, self.strides)
        distances = dfl_to_distances(box_logits, self.reg_max)
        return distances_to_boxes(distances, points, strides), points, strides, distances

    def forward_training(self, images: ImageList, features, predictions, gt_instances):
        box_logits, cls_logits = predictions
        pred_boxes, points, strides, _ = self.decode(features, predictions)
        pred_scores = cls_logits.detach().sigmoid()
        assignments = [
            self.assigner(
                pred_scores[i],
                pred_boxes[i].detach(),
                points,
                gt.gt_boxes.tensor,
                gt.gt_classes,
            )
            for i, gt in enumerate(gt_instances)
        ]
        n = len(gt_instances)
        return self.loss(
            cls_logits.flatten(0, 1),
            box_logits.flatten(0, 1),
            pred_boxes.flatten(0, 1),
            points.repeat(n, 1),
            strides.repeat(n),
            torch.cat([a.foreground for a in assignments]),
            torch.cat([a.boxes for a in assignments]),
            torch.cat([a.scores for a in assignments]),
        )

    def forward_inference(self, images: ImageList, features, predictions) -> list[Instances]:
        pred_boxes = self.decode(features, predictions)[0]
        scores = predictions[1].sigmoid()
        return [
            self.inference_single_image(b, s, image_size)
            for b, s, image_size in zip(pred_boxes, scores, images.image_sizes)
        ]

    def inference_single_image(
        self, boxes: torch.Tensor, scores: torch.Tensor, image_size: tuple[int, int]
    ) -> Instances:
        return select_detections(
            boxes,
            scores,
            image_size,
            self.test_score_thresh,
            self.test_nms_thresh,
            self.test_topk_candidates,
            self.max_detections_per_image,
        )


def select_detections(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    image_size: tuple[int, int],
    score_thresh: float,
    nms_thresh: float,
    topk: int,
    max_det: int,
) -> Instances:
    """Detections of one image from ``boxes (A, 4)`` and ``scores (A, C)``: every (point, class)
    above ``score_thresh``, the best ``topk`` of them, clipped to ``image_size`` (h, w), class-aware
    NMS, the best ``max_det``. Shared by the detector and the exported models' host side."""
    num_classes = scores.shape[-1]
    flat = scores.flatten()
    keep = (flat > score_thresh).nonzero(as_tuple=True)[0]
    if len(keep) > topk:
        keep = keep[flat[keep].topk(topk).indices]
    point_idx, classes = keep // num_classes, keep % num_classes
    cand_boxes = Boxes(boxes[point_idx])
    cand_boxes.clip(image_size)
    cand_scores = flat[keep]
    kept = batched_nms(cand_boxes.tensor, cand_scores, classes, nms_thresh)[:max_det]
    result = Instances(image_size)
    result.pred_boxes = cand_boxes[kept]
    result.scores = cand_scores[kept]
    result.pred_classes = classes[kept]
    return result
