"""Sliced (tiled) prediction for large aerial images.

A small object in a 4000 px frame shrinks below the detector's resolution floor when the frame is
resized to 640; cutting the frame into overlapping tiles at (close to) native resolution keeps it
visible. :class:`SlicedPredictor` cuts tiles (:func:`tile_grid`), runs them in batches through any
:class:`~prnet.inference.Predictor`, optionally adds a full-image pass (large objects), shifts tile
detections back to image pixels and merges duplicates (:func:`merge_detections`):

* ``"nms"``: class-aware NMS over everything (Detectron2 ``batched_nms``) — removes the copies
  of objects seen whole by two tiles;
* ``"greedy"``: greedy box merging — the best-scored box absorbs every same-class box that
  matches it (IoS, intersection over the smaller box, or IoU, above ``merge_thresh``) and becomes
  their enclosing box, keeping the best score. The two halves of an object cut by a tile border
  (each seen partially by one tile) become one box covering the object.

Memory stays bounded on huge frames: tiles are cut one batch at a time, and greedy merging is
vectorised over the ``N x N`` match matrix of a class only while it is small (``DENSE_MERGE_MAX``),
matching one box against the others at a time above that.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from detectron2.layers import batched_nms
from detectron2.structures import Boxes, Instances, pairwise_iou
from detectron2.structures.boxes import pairwise_intersection

from .predictor import Predictor

__all__ = ["SlicedPredictor", "tile_grid", "merge_detections"]


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    n = math.ceil((length - tile) / step) + 1
    starts = [min(i * step, length - tile) for i in range(n)]
    return sorted(set(starts))


def tile_grid(
    height: int, width: int, tile_size: int | Sequence[int], overlap: float = 0.2
) -> list[tuple[int, int, int, int]]:
    """Tiles ``(x0, y0, x1, y1)`` covering a ``height x width`` image, row-major.

    ``tile_size``: side (or ``(h, w)``) in image pixels; ``overlap``: fraction of the tile shared
    with its neighbour (``0 <= overlap < 1``). The last row/column is shifted inward so every tile
    has the full size (tiles are clipped to the image when it is smaller than a tile).
    """
    th, tw = (tile_size, tile_size) if isinstance(tile_size, int) else tuple(tile_size)
    if th <= 0 or tw <= 0:
        raise ValueError(f"tile_size must be positive, got {tile_size}")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    step_y = max(1, int(round(th * (1 - overlap))))
    step_x = max(1, int(round(tw * (1 - overlap))))
    return [
        (x, y, min(x + tw, width), min(y + th, height))
        for y in _starts(height, th, step_y)
        for x in _starts(width, tw, step_x)
    ]


#: Up to this many boxes of one class, greedy merging builds the full match matrix and runs
#: vectorised (16 MB of booleans at most); above it, one leader at a time in O(N) memory.
DENSE_MERGE_MAX = 4096


def _match(a: Boxes, b: Boxes, metric: str) -> torch.Tensor:
    """``len(a) x len(b)`` IoU, or IoS (intersection over the smaller of the two areas)."""
    if metric == "ios":
        inter = pairwise_intersection(a, b)
        smaller = torch.minimum(a.area()[:, None], b.area()[None, :])
        return torch.where(inter > 0, inter / smaller.clamp_min(1e-12), inter.new_zeros(()))
    return pairwise_iou(a, b)


def _greedy_merge(boxes: torch.Tensor, scores: torch.Tensor, thresh: float, metric: str):
    """Indices of the cluster leaders and the enclosing box of each cluster (one class).

    Greedy merging keeps exactly the boxes NMS would keep (same metric and threshold) and gives
    each other box to the best-scored leader that matches it. Both are computed on the match
    matrix at once (:func:`_greedy_merge_dense`) when it is small enough, else one leader at a
    time (:func:`_greedy_merge_streaming`); the two agree exactly.
    """
    if metric not in ("ios", "iou"):
        raise ValueError(f"match metric must be 'ios' or 'iou', got {metric!r}")
    if len(boxes) <= DENSE_MERGE_MAX:
        return _greedy_merge_dense(boxes, scores, thresh, metric)
    return _greedy_merge_streaming(boxes, scores, thresh, metric)


def _greedy_merge_dense(boxes: torch.Tensor, scores: torch.Tensor, thresh: float, metric: str):
    order = scores.argsort(descending=True)
    boxes = boxes[order]
    n = len(boxes)
    if n == 0:
        return order[:0], boxes[:0]
    # matches[i, j]: box i (better score) matches box j
    matches = torch.triu(_match(Boxes(boxes), Boxes(boxes), metric) > thresh, diagonal=1)
    # NMS's keep set: a box is kept unless a kept, better-scored box matches it (one pass over
    # the rows of the precomputed matrix, as boolean numpy vectors)
    rows = matches.numpy()
    keep_np = np.ones(n, dtype=bool)
    for i in range(n):
        if keep_np[i]:
            keep_np[i + 1 :] &= ~rows[i, i + 1 :]
    keep = torch.from_numpy(keep_np)
    owner_matrix = matches & keep[:, None]
    owner_matrix.diagonal().copy_(keep)
    owner = owner_matrix.to(torch.uint8).argmax(0)  # first (best-scored) matching leader
    lo = boxes[:, :2].new_full((n, 2), float("inf")).scatter_reduce(
        0, owner[:, None].expand(n, 2), boxes[:, :2], "amin")  # fmt: skip
    hi = boxes[:, 2:].new_full((n, 2), float("-inf")).scatter_reduce(
        0, owner[:, None].expand(n, 2), boxes[:, 2:], "amax")  # fmt: skip
    leaders = keep.nonzero(as_tuple=True)[0]
    return order[leaders], torch.cat((lo, hi), 1)[leaders]


def _greedy_merge_streaming(boxes: torch.Tensor, scores: torch.Tensor, thresh: float, metric: str):
    """One leader at a time, matched against the boxes not yet taken, with Detectron2's pairwise
    functions on one row: the values, hence the merges, are those of the full ``N x N`` matrix,
    in ``O(N)`` memory. The matrix took gigabytes on a large sliced frame (257 tiles x 500
    detections: ~18k boxes per class, 1.3 GB per float matrix, several of them).
    """
    order = scores.argsort(descending=True)
    boxes = boxes[order]
    alive = torch.arange(len(boxes))  # not yet taken, best score first
    leaders, merged = [], []
    while len(alive):
        rest = Boxes(boxes[alive])
        match = _match(Boxes(rest.tensor[:1]), rest, metric)[0]
        members = match > thresh
        members[0] = True
        group = rest.tensor[members]
        merged.append(torch.cat((group[:, :2].min(0).values, group[:, 2:].max(0).values)))
        leaders.append(order[alive[0]])
        alive = alive[~members]
    if not leaders:
        return order[:0], boxes[:0]
    return torch.stack(leaders), torch.stack(merged)


def merge_detections(
    detections: Instances,
    method: str = "greedy",
    merge_thresh: float = 0.5,
    match_metric: str = "ios",
    max_det: int | None = None,
) -> Instances:
    """Merge duplicate detections (same image, any source) class by class; see module doc.

    ``method``: ``"nms"`` (IoU > ``merge_thresh`` suppressed) or ``"greedy"`` (boxes matching
    by ``match_metric`` > ``merge_thresh`` merged into their enclosing box). The result is
    sorted by decreasing score and cut at ``max_det``.
    """
    boxes, scores = detections.pred_boxes.tensor, detections.scores
    classes = detections.pred_classes
    if method == "nms":
        keep = batched_nms(boxes, scores, classes, merge_thresh)
        out_boxes = boxes[keep]
    elif method == "greedy":
        keeps, merged = [], []
        for c in classes.unique().tolist():
            idx = (classes == c).nonzero(as_tuple=True)[0]
            leaders, boxes_c = _greedy_merge(boxes[idx], scores[idx], merge_thresh, match_metric)
            keeps.append(idx[leaders])
            merged.append(boxes_c)
        keep = torch.cat(keeps) if keeps else classes[:0]
        out_boxes = torch.cat(merged) if merged else boxes[:0]
        order = scores[keep].argsort(descending=True)
        keep, out_boxes = keep[order], out_boxes[order]
    else:
        raise ValueError(f"merge method must be 'nms' or 'greedy', got {method!r}")
    if max_det is not None:
        keep, out_boxes = keep[:max_det], out_boxes[:max_det]
    result = Instances(detections.image_size)
    result.pred_boxes = Boxes(out_boxes)
    result.scores = scores[keep]
    result.pred_classes = classes[keep]
    return result


class SlicedPredictor:
    """Tiles + optional full-image pass + merging around a :class:`Predictor`.

    Args:
        predictor: runs the tiles (each resized to its ``image_size``; pick ``tile_size`` equal to
            it to predict at native resolution) and the full-image pass.
        tile_size, overlap: see :func:`tile_grid`.
        full_image: also predict on the whole image resized to ``predictor.image_size``.
        merge, merge_thresh, match_metric: see :func:`merge_detections`.
        max_det: detections kept per image after merging (default: the predictor's).
        tile_batch: tiles per backend call.
        score_thresh: detections scored below it are dropped before merging (default: keep what
            the predictor returns); a deployment threshold such as 0.25 also makes merging cheap.
    """

    def __init__(
        self,
        predictor: Predictor,
        tile_size: int | Sequence[int] = 640,
        overlap: float = 0.2,
        *,
        full_image: bool = True,
        merge: str = "greedy",
        merge_thresh: float = 0.5,
        match_metric: str = "ios",
        max_det: int | None = None,
        tile_batch: int = 8,
        score_thresh: float | None = None,
    ):
        self.predictor = predictor
        self.tile_size = tile_size
        self.overlap = overlap
        self.full_image = full_image
        self.merge = merge
        self.merge_thresh = merge_thresh
        self.match_metric = match_metric
        self.max_det = predictor.rules["max_det"] if max_det is None else int(max_det)
        self.tile_batch = int(tile_batch)
        self.score_thresh = score_thresh

    def predict_tiles(self, image: np.ndarray) -> Instances:
        """Detections of every tile (and the full-image pass), in image pixels, not merged.

        Tiles are cut (and resized, by the predictor) ``tile_batch`` at a time and dropped after
        their batch: memory holds the image and one batch, not the ~250 tiles of a 10000 px frame.
        """
        h, w = image.shape[:2]
        tiles = tile_grid(h, w, self.tile_size, self.overlap)
        parts = []
        for start in range(0, len(tiles), self.tile_batch):
            parts += self._predict_batch(image, tiles[start : start + self.tile_batch])
        if self.full_image and len(tiles) > 1:
            r = self.predictor(image)
            parts.append((r.pred_boxes.tensor, r.scores, r.pred_classes))
        result = Instances((h, w))
        result.pred_boxes = Boxes(torch.cat([p[0] for p in parts]))
        result.scores = torch.cat([p[1] for p in parts])
        result.pred_classes = torch.cat([p[2] for p in parts])
        if self.score_thresh is not None:
            result = result[result.scores >= self.score_thresh]
        return result

    def _predict_batch(self, image: np.ndarray, tiles: list) -> list[tuple]:
        """Cut one batch of tiles, predict them; their boxes in image pixels. The crops die here."""
        crops = [np.ascontiguousarray(image[y0:y1, x0:x1]) for x0, y0, x1, y1 in tiles]
        parts = []
        for (x0, y0, _, _), r in zip(tiles, self.predictor(crops)):
            shift = torch.tensor([x0, y0, x0, y0], dtype=r.pred_boxes.tensor.dtype)
            parts.append((r.pred_boxes.tensor + shift, r.scores, r.pred_classes))
        return parts

    def __call__(self, image: np.ndarray) -> Instances:
        """RGB ``(H, W, 3)`` uint8 -> merged ``Instances`` in image pixels."""
        return merge_detections(
            self.predict_tiles(image), self.merge, self.merge_thresh, self.match_metric, self.max_det
        )
