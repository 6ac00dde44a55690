"""The VisDrone-style parts of scoring: per-image detection caps and VOC all-point AP.

pycocotools matches detections to ground truth (``COCOeval.evaluate``); this module replaces its
accumulate step for presets with ``interpolation="voc_all_point"``:

* detections are capped **per image over all classes** (the first ``m`` by score), both before
  matching (``top_k_per_image``, the toolkit's 500) and for ``AR@m``; pycocotools caps per image
  and class instead;
* per class and IoU threshold, detections matched to ignored ground truth (crowd / VisDrone
  score-0 boxes) are removed, the rest form a precision/recall curve, and AP is the area under its
  monotone precision envelope over all recall points (PASCAL VOC 2010+), not 101 samples of it;
* classes without non-ignored ground truth are marked -1 and left out of every mean.

Known differences from the official (MATLAB) VisDrone toolkit: ignore-region coverage is computed
exactly rather than on a pixel raster (see ``ignore_regions``), matching follows pycocotools' greedy
rule (a detection takes the best-IoU unmatched ground truth, preferring non-ignored ones), and ties
in score keep the input order. We have not run the official toolkit against this code, so small
differences in AP (e.g. from tie-breaking) remain possible.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

__all__ = ["top_k_per_image", "image_ranks", "voc_all_point_ap", "accumulate_voc"]


def _rank_in_image(items: list[dict]) -> np.ndarray:
    """Rank (0 = best) of each item among the items of its image, by score, ties in input order."""
    ranks = np.zeros(len(items), dtype=np.int64)
    by_image = defaultdict(list)
    for i, item in enumerate(items):
        by_image[item["image_id"]].append(i)
    for idx in by_image.values():
        scores = np.asarray([items[i]["score"] for i in idx], dtype=np.float64)
        order = np.argsort(-scores, kind="mergesort")
        ranks[np.asarray(idx)[order]] = np.arange(len(idx))
    return ranks


def top_k_per_image(results: list[dict], k: int) -> list[dict]:
    """The ``k`` highest-scored results of every image, all classes together (input order kept)."""
    ranks = _rank_in_image(results)
    return [r for r, rank in zip(results, ranks) if rank < k]


def image_ranks(detections: list[dict]) -> dict[int, int]:
    """``{detection id: rank within its image over all classes}`` for pycocotools-loaded results."""
    ranks = _rank_in_image(detections)
    return {int(d["id"]): int(r) for d, r in zip(detections, ranks)}


def voc_all_point_ap(recall, precision) -> float:
    """Area under the monotone precision envelope (PASCAL VOC 2010+ "all points").

    Args:
        recall: (D,) non-decreasing recall after each detection, in score order.
        precision: (D,) precision after each detection.
    """
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    if recall.shape != precision.shape or recall.ndim != 1:
        raise ValueError(
            f"recall and precision must be 1-D of equal length, got {recall.shape}, "
            f"{precision.shape}"
        )
    rec = np.concatenate([[0.0], recall, [1.0]])
    # Envelope: best precision at this or any higher recall.
    prec = np.maximum.accumulate(np.concatenate([[0.0], precision, [0.0]])[::-1])[::-1]
    steps = np.flatnonzero(rec[1:] != rec[:-1])
    return float(np.sum((rec[steps + 1] - rec[steps]) * prec[steps + 1]))


def accumulate_voc(coco_eval, det_rank: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """VOC all-point AP and final recall from a ``COCOeval`` after ``evaluate()``.

    Args:
        coco_eval: pycocotools ``COCOeval`` with ``evalImgs`` filled (``useCats=1``).
        det_rank: detection id -> rank in its image over all classes (``image_ranks``).

    Returns:
        ``precision`` (T, 1, K, A, M): AP per IoU/class/area/maxDets, laid out like pycocotools'
        precision with a single "recall point" so the same summaries apply; ``recall`` (T, K, A, M).
        Both -1 where a class has no non-ignored ground truth.
    """
    p = coco_eval._paramsEval
    T, K, A, M, I = len(p.iouThrs), len(p.catIds), len(p.areaRng), len(p.maxDets), len(p.imgIds)
    ap = -np.ones((T, 1, K, A, M))
    rec = -np.ones((T, K, A, M))
    for k in range(K):
        for a in range(A):
            start = (k * A + a) * I
            evals = [e for e in coco_eval.evalImgs[start : start + I] if e is not None]
            if not evals:
                continue
            gt_ignore = np.concatenate([np.asarray(e["gtIgnore"]).reshape(-1) for e in evals])
            num_pos = int(np.count_nonzero(gt_ignore == 0))
            if num_pos == 0:
                continue
            ranks = np.concatenate([[det_rank[d] for d in e["dtIds"]] for e in evals]).astype(int)
            scores = np.concatenate([np.asarray(e["dtScores"], dtype=np.float64) for e in evals])
            matched = np.concatenate([e["dtMatches"] for e in evals], axis=1) > 0  # (T, D)
            ignored = np.concatenate([e["dtIgnore"] for e in evals], axis=1) > 0  # (T, D)
            for m, max_det in enumerate(p.maxDets):
                sel = np.flatnonzero(ranks < max_det)
                sel = sel[np.argsort(-scores[sel], kind="mergesort")]
                for t in range(T):
                    counted = sel[~ignored[t, sel]]
                    tp = np.cumsum(matched[t, counted])
                    fp = np.cumsum(~matched[t, counted])
                    if len(counted) == 0:
                        ap[t, 0, k, a, m] = rec[t, k, a, m] = 0.0
                        continue
                    recall = tp / num_pos
                    ap[t, 0, k, a, m] = voc_all_point_ap(recall, tp / (tp + fp))
                    rec[t, k, a, m] = recall[-1]
    return ap, rec
