"""Task-aligned assignment (TOOD, Feng et al. 2021), with the settings of the PRNet reference.

For each ground-truth box, the candidate points are those whose cell centre lies inside the box; each
candidate gets the alignment ``score^alpha * overlap^beta`` (score: the predicted probability of the box's
class; overlap: of the predicted box with the ground truth) and the ``topk`` best become positives. A
point claimed by several boxes keeps the one it overlaps most. Soft class targets are the alignment,
rescaled per box so that its best point gets that point's overlap.

The overlap is the CIoU of predicted and ground-truth box clamped at 0, as in the YOLO11 recipe the
paper trains with (not plain IoU: CIoU also penalises centre distance and aspect ratio, which changes
which points win the top-k); ``overlap="iou"`` gives TOOD's original IoU.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from detectron2.layers import ciou_loss
from detectron2.structures import Boxes
from detectron2.structures.boxes import matched_pairwise_iou

__all__ = ["TaskAlignedAssigner", "Assignment", "OVERLAPS", "matched_overlap"]

OVERLAPS = ("ciou", "iou")


def matched_overlap(boxes1: torch.Tensor, boxes2: torch.Tensor, kind: str = "ciou") -> torch.Tensor:
    """Overlap of matched XYXY box pairs ``(P, 4), (P, 4) -> (P,)``: CIoU clamped at 0 or IoU."""
    if kind == "ciou":
        return (1.0 - ciou_loss(boxes1.float(), boxes2.float())).clamp_(min=0.0)
    if kind == "iou":
        return matched_pairwise_iou(Boxes(boxes1), Boxes(boxes2))
    raise ValueError(f"overlap must be one of {OVERLAPS}, got {kind!r}")


@dataclass
class Assignment:
    """Per-point targets: ``foreground (A,)`` bool, ``boxes (A, 4)`` XYXY, ``scores (A, C)`` soft targets."""

    foreground: torch.Tensor
    boxes: torch.Tensor
    scores: torch.Tensor


class TaskAlignedAssigner:
    """Args: ``topk`` positives per box, ``alpha``/``beta`` exponents of score and overlap,
    ``overlap``: "ciou" (the recipe's, default) or "iou"."""

    def __init__(
        self,
        topk: int = 10,
        alpha: float = 0.5,
        beta: float = 6.0,
        eps: float = 1e-9,
        overlap: str = "ciou",
    ):
        if overlap not in OVERLAPS:
            raise ValueError(f"overlap must be one of {OVERLAPS}, got {overlap!r}")
        self.topk, self.alpha, self.beta, self.eps = topk, alpha, beta, eps
        self.overlap = overlap

    @torch.no_grad()
    def __call__(
        self,
        pred_scores: torch.Tensor,
        pred_boxes: torch.Tensor,
        points: torch.Tensor,
        gt_boxes: torch.Tensor,
        gt_classes: torch.Tensor,
    ) -> Assignment:
        """One image: ``pred_scores (A, C)`` probabilities, ``pred_boxes (A, 4)`` and ``gt_boxes (M, 4)``
        XYXY pixels, ``points (A, 2)`` cell centres, ``gt_classes (M,)`` in ``[0, C)``."""
        num_points, num_classes = pred_scores.shape
        foreground = torch.zeros(num_points, dtype=torch.bool, device=pred_scores.device)
        target_boxes = torch.zeros_like(pred_boxes)
        target_scores = torch.zeros_like(pred_scores)
        if len(gt_boxes) == 0:
            return Assignment(foreground, target_boxes, target_scores)

        # Candidates: cell centre strictly inside the box. (M, A)
        offsets = torch.cat(
            (points[None] - gt_boxes[:, None, :2], gt_boxes[:, None, 2:] - points[None]), -1
        )
        inside = offsets.amin(-1) > self.eps
        gt_idx, pt_idx = inside.nonzero(as_tuple=True)

        overlaps = pred_scores.new_zeros(inside.shape)
        overlaps[gt_idx, pt_idx] = matched_overlap(
            pred_boxes[pt_idx], gt_boxes[gt_idx], self.overlap
        ).to(overlaps.dtype)
        alignment = pred_scores.new_zeros(inside.shape)
        alignment[gt_idx, pt_idx] = (
            pred_scores[pt_idx, gt_classes[gt_idx]].pow(self.alpha)
            * overlaps[gt_idx, pt_idx].pow(self.beta)
        )

        k = min(self.topk, num_points)
        top = alignment.topk(k, dim=1).indices
        positive = torch.zeros_like(inside).scatter_(1, top, True) & inside

        # A point claimed by several boxes keeps the one it overlaps most.
        contested = positive.sum(0) > 1
        if contested.any():
            best = overlaps[:, contested].argmax(0)
            positive[:, contested] = False
            positive[best, contested.nonzero(as_tuple=True)[0]] = True

        foreground = positive.any(0)
        assigned = positive.float().argmax(0)  # (A,), meaningful where foreground
        target_boxes = gt_boxes[assigned]

        alignment = alignment * positive
        best_alignment = alignment.amax(1, keepdim=True)
        best_overlap = (overlaps * positive).amax(1, keepdim=True)
        soft = (alignment * best_overlap / (best_alignment + self.eps)).amax(0)  # (A,)
        target_scores[foreground, gt_classes[assigned[foreground]]] = soft[foreground]
        return Assignment(foreground, target_boxes, target_scores)

