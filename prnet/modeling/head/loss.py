"""PRNet's training loss (YOLO11's, docs/paper.md): BCE on task-aligned soft targets, CIoU and DFL.

Every term is normalised by the sum of the soft targets over the batch (the whole batch over all
data-parallel processes); box terms are weighted by each
positive's target score. Unlike Ultralytics we do not multiply the loss by the batch size: as everywhere in
Detectron2, losses are batch means and the learning rate carries the batch-size scaling.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from detectron2.layers import ciou_loss
from detectron2.utils import comm

__all__ = ["distribution_focal_loss", "DetectionLoss"]


def distribution_focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """DFL (Li et al., Generalized Focal Loss): cross-entropy towards the two bins around each target.

    ``logits (P, 4, R)``, ``target (P, 4)`` in ``[0, R - 1)`` -> ``(P,)`` mean over the four sides.
    """
    left = target.long()
    weight_right = target - left
    ce = lambda idx: F.cross_entropy(logits.flatten(0, 1), idx.flatten(), reduction="none")  # noqa: E731
    loss = ce(left).view_as(target) * (1 - weight_right) + ce(left + 1).view_as(target) * weight_right
    return loss.mean(-1)


def _mean_over_processes(value: torch.Tensor) -> torch.Tensor:
    """``value`` averaged over the data-parallel processes (itself in one process). The loss is
    normalised by the whole batch's target sum: each process divides by the mean of the sums, and
    DDP's gradient average then equals one process seeing the whole batch."""
    world = comm.get_world_size()
    if world == 1:
        return value
    value = value.clone()
    dist.all_reduce(value)
    return value / world


class DetectionLoss:
    """Combine the three terms with their gains (box 7.5, cls 0.5, dfl 1.5 in the reference).

    Called with the whole batch flattened: ``cls_logits (P, C)``, ``box_logits (P, 4 R)``, decoded
    ``pred_boxes (P, 4)``, and the assigner's ``foreground (P,)``, ``target_boxes (P, 4)``,
    ``target_scores (P, C)``, plus ``points (P, 2)`` and ``strides (P,)`` for the DFL targets.
    """

    def __init__(self, reg_max: int = 16, box_gain=7.5, cls_gain=0.5, dfl_gain=1.5, prefix="prnet"):
        self.reg_max = reg_max
        self.gains = {"box": box_gain, "cls": cls_gain, "dfl": dfl_gain}
        self.prefix = prefix

    def __call__(
        self,
        cls_logits: torch.Tensor,
        box_logits: torch.Tensor,
        pred_boxes: torch.Tensor,
        points: torch.Tensor,
        strides: torch.Tensor,
        foreground: torch.Tensor,
        target_boxes: torch.Tensor,
        target_scores: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        normaliser = _mean_over_processes(target_scores.sum().detach()).clamp(min=1.0)
        loss_cls = F.binary_cross_entropy_with_logits(
            cls_logits, target_scores.to(cls_logits.dtype), reduction="sum"
        )
        if foreground.any():
            weight = target_scores[foreground].sum(-1)
            loss_box = (ciou_loss(pred_boxes[foreground].float(), target_boxes[foreground]) * weight).sum()
            p, s = points[foreground], strides[foreground, None]
            t = target_boxes[foreground]
            target_ltrb = torch.cat((p - t[:, :2], t[:, 2:] - p), -1) / s
            target_ltrb = target_ltrb.clamp(0, self.reg_max - 1 - 0.01)
            dfl_logits = box_logits[foreground].float().unflatten(-1, (4, self.reg_max))
            loss_dfl = (distribution_focal_loss(dfl_logits, target_ltrb) * weight).sum()
        else:  # keep the graph connected so that DDP sees a gradient for every parameter
            loss_box = loss_dfl = box_logits.sum() * 0.0
        losses = {"cls": loss_cls, "box": loss_box, "dfl": loss_dfl}
        return {
            f"loss_{self.prefix}_{k}": v * self.gains[k] / normaliser for k, v in losses.items()
        }
