"""The VisDrone-style parts of scoring: per-image detection caps, VOC all-point AP, class weights.

pycocotools matches detections to ground truth (``COCOeval.evaluate``); this module replaces its
accumulate step for presets with ``interpolation="voc_all_point"``:

* detections are capped **per image over all classes** (the first ``m`` by score), both before
  matching (``top_k_per_image``, the toolkit's 500) and for ``AR@m``; pycocotools caps per image
  and class instead;
* per class and IoU threshold, detections matched to ignored ground truth (crowd / VisDrone
  score-0 boxes) are removed, the rest form a precision/recall curve, and AP is the area under its
  monotone precision envelope over all recall points (PASCAL VOC 2010+), not 101 samples of it;
* recall is divided by the class's non-ignored ground truth (pycocotools, VOC) or, with
  ``recall_counts_ignored`` (the ``visdrone`` preset), by all its ground truth, ignored boxes
  included, as the official VisDrone toolkit's calcAccuracy does (``rec = tp / numel(gtMatch)``);
  a class that holds ignored boxes then gets lower recall and AP, while precision is unchanged
  (a detection on an ignored box is still neither TP nor FP);
* classes without ground truth in that denominator are marked -1 here; with the ``visdrone``
  preset's ``class_weighting="images"`` the scorer then averages over classes weighted by
  ``images_per_class`` (the toolkit's calcAccuracy lists a class once per image that holds it),
  and a class present only as ignored boxes scores 0, as in the toolkit (it has no true
  positives, so its recall and AP are 0 there).

Matching is pycocotools' greedy rule, which is the toolkit's: by descending score, a detection
takes the best-IoU unmatched non-ignored ground truth with IoU >= the threshold (the last one on
ties), else it is ignored if an ignored box covers >= the threshold of its own area. Capping after
matching gives the same result as the toolkit's capping before it, since greedy matching of a
detection only depends on higher-scored ones. Before all this, the ``visdrone`` preset drops boxes
covered >= 50 % by ignore regions measured on the toolkit's pixel raster (``ignore_rule=
"visdrone_raster"``, see ``ignore_regions``).

Remaining differences from the official (MATLAB) VisDrone toolkit, all in how inputs are read:

* the toolkit keeps the first 500 detections in the result file's order (normally by score),
  prnet the 500 best-scored, ties in input order; equal scores in different images are ranked in
  image-id order here and in file-name order there (the same for the converter's ids, which
  follow file names);
* prnet's converter clips ground truth and ignore regions to the image and drops boxes with
  w or h <= 0, which the toolkit does not: a ground-truth box reaching out of the image can get
  another IoU or coverage, and a region starting left of or above the image (x or y < 0) covers
  less than in the toolkit (which raises x and y to 1 and keeps the region's full w and h).

We have not run the MATLAB toolkit itself. With the differences above not triggered, AP, AP50,
AP75 and AR@1/10/100/500 (per class and overall) agree to float rounding with an independent
Python re-implementation of the toolkit's algorithm on real VisDrone images, including detections
straddling ignore-region edges near 50 % coverage and class boxes set to score 0.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

__all__ = [
    "top_k_per_image",
    "image_ranks",
    "images_per_class",
    "voc_all_point_ap",
    "accumulate_voc",
]


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


def images_per_class(annotations: list[dict], cat_ids: list) -> np.ndarray:
    """(K,) number of images holding at least one ground-truth box of each class, ignored boxes
    included: the weights of the official VisDrone toolkit's class mean (its calcAccuracy
    appends a class to the averaged list once per such image)."""
    images = {c: set() for c in cat_ids}
    for ann in annotations:
        if ann["category_id"] in images:
            images[ann["category_id"]].add(ann["image_id"])
    return np.asarray([len(images[c]) for c in cat_ids], dtype=np.int64)


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


def _num_gt_in_range(coco_eval, e: dict) -> int:
    """Ground-truth boxes of one ``evalImgs`` entry with area in its size bin, crowd included
    (pycocotools' ``gtIgnore`` also marks out-of-bin boxes, which must stay out)."""
    lo, hi = e["aRng"]
    anns = coco_eval.cocoGt.anns
    return sum(1 for g in e["gtIds"] if lo <= anns[g]["area"] <= hi)


def accumulate_voc(
    coco_eval, det_rank: dict[int, int], recall_counts_ignored: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """VOC all-point AP and final recall from a ``COCOeval`` after ``evaluate()``.

    Args:
        coco_eval: pycocotools ``COCOeval`` with ``evalImgs`` filled (``useCats=1``).
        det_rank: detection id -> rank in its image over all classes (``image_ranks``).
        recall_counts_ignored: divide recall by every ground-truth box of the class in the size
            bin, crowd (ignored) ones included, as the official VisDrone toolkit does; False: by
            the non-ignored ones only (pycocotools, VOC). Precision is the same either way.

    Returns:
        ``precision`` (T, 1, K, A, M): AP per IoU/class/area/maxDets, laid out like pycocotools'
        precision with a single "recall point" so the same summaries apply; ``recall`` (T, K, A, M).
        Both -1 where a class has no ground truth that counts in the recall denominator.
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
            if recall_counts_ignored:
                num_pos = sum(_num_gt_in_range(coco_eval, e) for e in evals)
            else:
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
