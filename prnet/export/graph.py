"""The deployable PRNet graph: tensors in, tensors out, traceable at one size and valid at others.

One module, :class:`DeployableDetector`, is what every format holds (TorchScript, ONNX, TensorRT)
and what the eager backend runs, so every backend computes the same thing.

Input ``images``: ``(N, 3, H, W)`` float32, RGB, pixel values 0-255 (the model's input format), any
``H, W`` (the graph normalises and zero-pads to the backbone's size divisibility itself, exactly as
Detectron2's ``preprocess_image`` does). Images of a batch share ``H, W``: pad smaller ones on the
bottom/right with ``pixel_mean`` (see :func:`prnet.inference.batch_images`).

Flattened outputs (the order of :data:`RAW_OUTPUTS` / :data:`NMS_OUTPUTS`):

* without NMS (``with_nms=False``): ``boxes (N, A, 4)`` XYXY in input pixels (not clipped),
  ``scores (N, A, C)`` sigmoid scores; ``A = sum(H_i W_i)`` over the head levels. Host-side
  :func:`select_detections` turns them into detections exactly like the eager model.
* with NMS (``with_nms=True``): ``boxes (N, D, 4)`` XYXY clipped to ``(H, W)``, ``scores (N, D)``,
  ``classes (N, D)`` int64, ``num_detections (N,)`` int64, ``D = max_det``. Row ``i`` holds
  ``num_detections[i]`` detections sorted by decreasing score, then padding (boxes 0, scores 0,
  classes -1). The graph applies the eager rules: score threshold, the best ``topk`` (point, class)
  candidates, clipping, class-aware NMS, ``max_det`` per image. Batch-dynamic: NMS runs once over
  the whole batch with one group per (image, class).
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
import torchvision
from detectron2.structures import Boxes, Instances
from torch import nn

from prnet.checkpoint.metadata import INPUT_CONVENTION, model_metadata
from prnet.modeling.meta_arch.prnet import (  # select_detections: re-exported for runtimes
    PRNetDetector,
    select_detections,
)

__all__ = [
    "RAW_OUTPUTS",
    "NMS_OUTPUTS",
    "DeployableDetector",
    "nms_in_graph",
    "select_detections",
    "outputs_to_instances",
]

RAW_OUTPUTS = ("boxes", "scores")
NMS_OUTPUTS = ("boxes", "scores", "classes", "num_detections")


class DeployableDetector(nn.Module):
    """Wrap a :class:`~prnet.modeling.PRNetDetector` into ``images -> tuple of tensors``.

    Args:
        model: the detector (eval mode); its head, decoding and test thresholds are used.
        with_nms: put score threshold, top-k, class-aware NMS and ``max_det`` in the graph.
        max_det: detections per image of the NMS graph (default: the model's
            ``max_detections_per_image``).
        score_thresh, nms_thresh, topk: NMS-graph overrides of the model's ``test_*`` settings.
    """

    def __init__(
        self,
        model: nn.Module,
        with_nms: bool = False,
        *,
        max_det: int | None = None,
        score_thresh: float | None = None,
        nms_thresh: float | None = None,
        topk: int | None = None,
    ):
        super().__init__()
        if not isinstance(model, PRNetDetector):
            raise TypeError(
                f"export supports PRNetDetector models only (its DFL head and decoding are in the "
                f"graph); got {type(model).__name__}. Detectron2's RetinaNet/FCOS and other meta "
                "architectures can be exported with detectron2.export.TracingAdapter directly."
            )
        self.model = model
        self.with_nms = with_nms
        self.size_divisibility = max(
            int(model.backbone.size_divisibility),
            int((model.backbone.padding_constraints or {}).get("size_divisibility", 0)),
            1,
        )
        self.max_det = int(model.max_detections_per_image if max_det is None else max_det)
        self.score_thresh = float(model.test_score_thresh if score_thresh is None else score_thresh)
        self.nms_thresh = float(model.test_nms_thresh if nms_thresh is None else nms_thresh)
        self.topk = int(model.test_topk_candidates if topk is None else topk)

    @property
    def output_names(self) -> tuple[str, ...]:
        return NMS_OUTPUTS if self.with_nms else RAW_OUTPUTS

    def metadata(self, fmt: str = "eager") -> dict:
        """What a runtime needs to know about this graph (also written next to exported files and
        into them): outputs, thresholds, and what the model says about itself (class names, test
        image size, config; ``None`` when the model was built without them)."""
        own = model_metadata(self.model)
        config = own.get("config_file")
        return {
            "format": fmt,
            "with_nms": self.with_nms,
            "outputs": list(self.output_names),
            "num_classes": int(self.model.num_classes),
            "size_divisibility": self.size_divisibility,
            "pixel_mean": self.model.pixel_mean.flatten().tolist(),
            "score_thresh": self.score_thresh,
            "nms_thresh": self.nms_thresh,
            "topk_candidates": self.topk,
            "max_det": self.max_det,
            "class_names": own.get("class_names"),
            "image_size": own.get("image_size"),
            **INPUT_CONVENTION,
            "config": None if config is None else os.path.basename(config),
            "overrides": list(own.get("overrides", [])),
            "prnet_version": own.get("prnet_version") or _version(),
        }

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        m = self.model
        h, w = images.shape[-2], images.shape[-1]
        x = (images - m.pixel_mean.view(1, -1, 1, 1)) / m.pixel_std.view(1, -1, 1, 1)
        d = self.size_divisibility
        # Traced as shape arithmetic, so the padding follows the input size in every format.
        x = F.pad(x, (0, (d - w % d) % d, 0, (d - h % d) % d), value=0.0)
        features = m.backbone(x)
        features = [features[f] for f in m.head_in_features]
        predictions = m.head(features)
        boxes = m.decode(features, predictions)[0]
        scores = predictions[1].sigmoid()
        if not self.with_nms:
            return boxes, scores
        return nms_in_graph(
            boxes, scores, h, w, self.score_thresh, self.nms_thresh, self.topk, self.max_det
        )


def _version() -> str:
    import prnet

    return prnet.__version__


def nms_in_graph(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    height,
    width,
    score_thresh: float,
    nms_thresh: float,
    topk: int,
    max_det: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batched, traceable version of ``PRNetDetector.inference_single_image`` (see module doc).

    ``boxes (N, A, 4)``, ``scores (N, A, C)`` -> padded ``boxes (N, D, 4)``, ``scores (N, D)``,
    ``classes (N, D)``, ``num_detections (N,)``. Every size is a traced shape and ``topk`` is a
    constant (the score matrix is padded with zeros to at least ``topk`` columns), so one trace
    serves every batch and image size. Exports to ONNX ``TopK``/``NonZero``/``NonMaxSuppression``.
    """
    n, num_classes = scores.shape[0], scores.shape[2]
    flat = scores.flatten(1)
    # zeros never pass the (strict) threshold; they only make topk valid for small inputs
    flat = torch.cat((flat, flat.new_zeros((n, topk))), 1)
    top_scores, top_idx = flat.topk(topk, dim=1)
    img, rank = (top_scores > score_thresh).nonzero(as_tuple=True)
    cand = top_idx[img, rank]
    cand_scores = top_scores[img, rank]
    point, cls = cand // num_classes, cand % num_classes
    b = boxes[img, point]
    # Boxes.clip of the eager path, with traced bounds
    wt = torch.as_tensor(width, dtype=b.dtype)
    ht = torch.as_tensor(height, dtype=b.dtype)
    zero = torch.zeros((), dtype=b.dtype)
    x1 = torch.minimum(torch.maximum(b[:, 0], zero), wt)
    y1 = torch.minimum(torch.maximum(b[:, 1], zero), ht)
    x2 = torch.minimum(torch.maximum(b[:, 2], zero), wt)
    y2 = torch.minimum(torch.maximum(b[:, 3], zero), ht)
    b = torch.stack((x1, y1, x2, y2), 1)
    # class-aware NMS over the whole batch: one group per (image, class), by the coordinate
    # offset trick of torchvision's batched_nms, written out so that no Python branch on the
    # candidate count is baked into a trace (torchvision returns early for empty inputs)
    group = (img * num_classes + cls).to(b.dtype)
    max_coord = torch.cat((b.flatten(), b.new_zeros(1))).max()
    keep = torchvision.ops.nms(b + (group * (max_coord + 1))[:, None], cand_scores, nms_thresh)
    img, b, cand_scores, cls = img[keep], b[keep], cand_scores[keep], cls[keep]
    # rank of each kept detection inside its image (keep is sorted by decreasing score)
    onehot = (img[:, None] == torch.arange(n, device=img.device)[None, :]).to(torch.int64)
    slot = (onehot.cumsum(0) * onehot).sum(1) - 1
    sel = slot < max_det
    img, slot = img[sel], slot[sel]
    out_boxes = b.new_zeros((n, max_det, 4))
    out_scores = cand_scores.new_zeros((n, max_det))
    out_classes = torch.full_like(out_scores, -1, dtype=torch.int64)
    out_boxes[img, slot] = b[sel]
    out_scores[img, slot] = cand_scores[sel]
    out_classes[img, slot] = cls[sel]
    num = onehot[sel].sum(0)
    return out_boxes, out_scores, out_classes, num


def outputs_to_instances(
    outputs: dict[str, torch.Tensor],
    image_sizes: list[tuple[int, int]],
    *,
    score_thresh: float = 0.001,
    nms_thresh: float = 0.7,
    topk: int = 30000,
    max_det: int = 500,
) -> list[Instances]:
    """Backend outputs (raw or NMS, by their keys) -> one ``Instances`` per image, input pixels.

    ``image_sizes[i]`` is the (h, w) of image ``i`` before batch padding. Raw outputs go through
    :func:`select_detections` with the given rules; NMS outputs are cut at ``num_detections``
    (the rules were applied in the graph).
    """
    results = []
    if "num_detections" in outputs:
        for i, size in enumerate(image_sizes):
            k = int(outputs["num_detections"][i])
            r = Instances(tuple(size))
            r.pred_boxes = Boxes(outputs["boxes"][i, :k].float())
            r.scores = outputs["scores"][i, :k].float()
            r.pred_classes = outputs["classes"][i, :k].long()
            results.append(r)
        return results
    for i, size in enumerate(image_sizes):
        results.append(
            select_detections(
                outputs["boxes"][i].float(),
                outputs["scores"][i].float(),
                tuple(size),
                score_thresh,
                nms_thresh,
                topk,
                max_det,
            )
        )
    return results
