"""Score COCO-format detections under a named protocol (one implementation for every caller).

``evaluate_coco_results`` works without Detectron2's data loader (exported models, sliced
inference, saved result files); ``AerialEvaluator`` calls it too. Matching is pycocotools' COCOeval
rule, run by one of two scorers (``scorer=``): ``faster`` (default), faster-coco-eval's C++
``COCOeval_faster`` (same matching and accumulation, several times faster on VisDrone-sized inputs,
see ``docs/benchmarks/eval_scorers.json``), or ``pycocotools``, the reference (a test checks they
agree on every metric of every preset). The preset decides what happens around matching (see
``presets``):

1. ground truth and results restricted to ``img_ids`` (all ground-truth images by default);
2. ignore-region filter (``ignore_regions``, exact or on the VisDrone toolkit's raster), then the
   per-image cap over all classes;
3. ``COCOeval`` with the preset's IoU thresholds, ``maxDets`` and area ranges;
4. accumulate: pycocotools' own (``coco101``) or VOC all-point (``visdrone_protocol``; recall
   over non-ignored ground truth or, ``recall_counts_ignored``, over all of it as the toolkit).
   VOC all-point needs every image's match arrays (``COCOeval.evalImgs``), which faster-coco-eval
   keeps inside C++ (its ``ImageEvaluation`` has no Python fields), so such presets (``visdrone``)
   always match with pycocotools; ``report["scorer"]`` names the scorer that ran;
5. summaries read from the accumulated arrays exactly as ``COCOeval.summarize`` does, or, with
   ``class_weighting="images"``, as the official VisDrone toolkit's image-weighted class mean.

Metrics are in percent (Detectron2's convention); a metric that cannot be computed (no ground
truth in a size bin, ...) is NaN.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
from collections.abc import Iterable, Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from .ignore_regions import drop_ignored
from .presets import EvalPreset, get_preset
from .visdrone_protocol import accumulate_voc, image_ranks, images_per_class, top_k_per_image

__all__ = ["SCORERS", "evaluate_coco_results", "load_ground_truth"]

SCORERS = ("faster", "pycocotools")


def load_ground_truth(gt_json: str | os.PathLike | dict) -> dict:
    """A private copy of a COCO ground-truth dict, with ``area``/``iscrowd`` filled if missing.

    pycocotools needs both fields; missing ``area`` becomes the box area ``w * h``.
    """
    if isinstance(gt_json, dict):
        dataset = copy.deepcopy(gt_json)
    else:
        with open(os.fspath(gt_json), encoding="utf-8") as f:
            dataset = json.load(f)
    for key in ("images", "categories"):
        if key not in dataset:
            raise ValueError(f"ground truth is not a COCO dict: it has no {key!r} list")
    dataset.setdefault("annotations", [])
    for ann in dataset["annotations"]:
        if "bbox" not in ann:
            raise ValueError(f"ground-truth annotation {ann.get('id')} has no 'bbox'")
        ann.setdefault("iscrowd", 0)
        if "area" not in ann:
            ann["area"] = float(ann["bbox"][2]) * float(ann["bbox"][3])
    return dataset


def _check_results(results: Iterable[dict], dataset: dict) -> list[dict]:
    image_ids = {img["id"] for img in dataset["images"]}
    cat_ids = {cat["id"] for cat in dataset["categories"]}
    out = []
    for i, r in enumerate(results):
        missing = {"image_id", "category_id", "bbox", "score"} - set(r)
        if missing:
            raise ValueError(f"result {i} lacks {sorted(missing)}; COCO results need all four")
        if r["image_id"] not in image_ids:
            raise ValueError(f"result {i} has image_id {r['image_id']!r}, not in the ground truth")
        if r["category_id"] not in cat_ids:
            raise ValueError(
                f"result {i} has category_id {r['category_id']!r}; ground-truth categories are "
                f"{sorted(cat_ids)} (map contiguous model ids to dataset ids first)"
            )
        if len(r["bbox"]) != 4:
            raise ValueError(f"result {i}: bbox must be [x, y, w, h], got {r['bbox']!r}")
        out.append(
            {
                "image_id": r["image_id"],
                "category_id": r["category_id"],
                "bbox": [float(v) for v in r["bbox"]],
                "score": float(r["score"]),
            }
        )
    return out


def _restrict(dataset: dict, results: list[dict], img_ids: Iterable) -> tuple[dict, list[dict]]:
    keep = set(img_ids)
    unknown = keep - {img["id"] for img in dataset["images"]}
    if unknown:
        raise ValueError(f"img_ids not in the ground truth: {sorted(unknown)[:10]}")
    dataset = dict(
        dataset,
        images=[img for img in dataset["images"] if img["id"] in keep],
        annotations=[a for a in dataset["annotations"] if a["image_id"] in keep],
    )
    return dataset, [r for r in results if r["image_id"] in keep]


def _to_coco(dataset: dict, coco_class=COCO):
    coco = coco_class()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _load_results(coco_gt, results: list[dict]):
    if results:
        with contextlib.redirect_stdout(io.StringIO()):
            return coco_gt.loadRes(results)
    # pycocotools' loadRes cannot take an empty list; no detections simply score 0 AP.
    empty = {"images": coco_gt.dataset["images"], "categories": [], "annotations": []}
    return _to_coco(empty, type(coco_gt))


def _scorer_classes(scorer: str):
    """(COCO, COCOeval) classes of a scorer; faster-coco-eval is imported only when used."""
    if scorer not in SCORERS:
        raise ValueError(f"scorer must be one of {SCORERS}, got {scorer!r}")
    if scorer == "pycocotools":
        return COCO, COCOeval
    try:
        from faster_coco_eval import COCO as FasterCOCO
        from faster_coco_eval import COCOeval_faster
    except ImportError as e:
        raise ImportError(
            "scorer='faster' needs faster-coco-eval (pip install faster-coco-eval==1.8.0); "
            "scorer='pycocotools' scores without it"
        ) from e

    def make_eval(coco_gt, coco_dt, iou_type):
        return COCOeval_faster(coco_gt, coco_dt, iou_type, print_function=lambda *a, **k: None)

    return FasterCOCO, make_eval


def _py(value):
    """numpy scalar -> Python scalar (COCOeval returns ids via np.unique), for JSON and lookups."""
    return value.item() if isinstance(value, np.generic) else value


def _mean_valid(s: np.ndarray) -> float:
    """``COCOeval.summarize``'s reduction: mean over entries > -1, as percent; NaN if none."""
    valid = s[s > -1]
    return float(np.mean(valid) * 100) if len(valid) else float("nan")


def _class_mean(s: np.ndarray, weights: np.ndarray | None) -> float:
    """Mean of ``s`` (classes on the last axis) over entries > -1, as percent; NaN if none.

    ``weights`` None: ``_mean_valid``. Otherwise one weight per class: a class with weight n counts
    as n classes (the official VisDrone toolkit's calcAccuracy repeats a class once per image).
    """
    if weights is None:
        return _mean_valid(s)
    w = np.broadcast_to(weights, s.shape)
    valid = (s > -1) & (w > 0)
    if not valid.any():
        return float("nan")
    return float(np.sum(s[valid] * w[valid]) / np.sum(w[valid]) * 100)


def _iou_index(preset: EvalPreset, iou: float) -> np.ndarray:
    return np.flatnonzero(np.isclose(np.asarray(preset.iou_thresholds), iou))


def _summaries(
    precision: np.ndarray, recall: np.ndarray, preset: EvalPreset, weights: np.ndarray | None
) -> dict:
    """AP, AP50, AP75, extra APs, AP per size bin, AR@maxDets, AR per size bin (percent)."""

    def mean(s):
        return _class_mean(s, weights)

    metrics = {"AP": mean(precision[..., 0, -1])}
    for iou in (0.5, 0.75, *preset.extra_ap_ious):
        t = _iou_index(preset, iou)
        if len(t):
            metrics[f"AP{round(iou * 100)}"] = mean(precision[t][..., 0, -1])
    for a, area in enumerate(preset.area_ranges[1:], start=1):
        metrics[f"AP{area.suffix}"] = mean(precision[..., a, -1])
    for m, max_det in enumerate(preset.max_dets):
        metrics[f"AR@{max_det}"] = mean(recall[..., 0, m])
    for a, area in enumerate(preset.area_ranges[1:], start=1):
        metrics[f"AR{area.suffix}"] = mean(recall[..., a, -1])
    return metrics


def _count_ignored_only_classes_as_zero(precision, recall, num_images) -> None:
    """In place: AP and AR 0 (not -1, "left out") for classes in some image but without non-ignored
    ground truth, in the "all" size bin. The official VisDrone toolkit scores such a class 0 (no
    detection can be a true positive) and still counts it in its image-weighted mean."""
    present = num_images > 0
    precision[:, :, present, 0, :] = np.maximum(precision[:, :, present, 0, :], 0)
    recall[:, present, 0, :] = np.maximum(recall[:, present, 0, :], 0)


def _per_class(
    precision: np.ndarray,
    dataset: dict,
    cat_ids: list,
    preset: EvalPreset,
    num_images: np.ndarray,
    weights: np.ndarray | None,
) -> list:
    num_gt = {c: 0 for c in cat_ids}
    for ann in dataset["annotations"]:
        if not ann["iscrowd"] and ann["category_id"] in num_gt:
            num_gt[ann["category_id"]] += 1
    names = {cat["id"]: cat.get("name", str(cat["id"])) for cat in dataset["categories"]}
    rows = []
    for k, cat_id in enumerate(cat_ids):
        row = {"id": cat_id, "name": names[cat_id], "num_gt": num_gt[cat_id]}
        row["num_images"] = int(num_images[k])
        if weights is not None:  # this class's share of the overall AP/AR
            row["weight"] = float(weights[k] / weights.sum()) if weights.sum() else 0.0
        row["AP"] = _mean_valid(precision[:, :, k, 0, -1])
        for iou in (0.5, 0.75):
            t = _iou_index(preset, iou)
            if len(t):
                row[f"AP{round(iou * 100)}"] = _mean_valid(precision[t][:, :, k, 0, -1])
        rows.append(row)
    return rows


def evaluate_coco_results(
    gt_json: str | os.PathLike | dict,
    results: Iterable[dict],
    preset: str | EvalPreset = "coco",
    max_dets: int | Sequence[int] | None = None,
    img_ids: Iterable | None = None,
    scorer: str = "faster",
    keep_arrays: bool = False,
) -> dict:
    """Score COCO-format box detections against COCO ground truth under a protocol preset.

    Args:
        gt_json: path to, or dict of, COCO ground truth (images may carry ``ignore_regions``;
            ignored boxes are ``iscrowd: 1``).
        results: COCO results, ``{"image_id", "category_id" (dataset id), "bbox" XYWH, "score"}``.
        preset: a preset name (``coco``, ``aitod``, ``visdrone``, ``uavdt``) or ``EvalPreset``.
        max_dets: override the detection budget (see ``EvalPreset.with_max_dets``).
        img_ids: score only these images (default: every ground-truth image).
        scorer: ``faster`` (faster-coco-eval) or ``pycocotools`` (the reference); presets with
            ``voc_all_point`` interpolation always match with pycocotools (see the module doc).
        keep_arrays: also return the accumulated arrays under ``"arrays"`` (``precision``
            (T, R, K, A, M), ``recall`` (T, K, A, M), ``cat_ids``; what the plots draw).

    Returns:
        ``{"preset": name, "scorer": the scorer that ran,
        "metrics": {"AP", "AP50", "AP75", "AP<bin>", "AR@<m>", ...},
        "per_class": [{"id", "name", "num_gt", "num_images", ["weight",] "AP", "AP50", "AP75"},
        ...], "num_images", "num_detections"}``, metrics in percent, NaN where undefined.
        ``num_gt`` counts non-ignored boxes, ``num_images`` the scored images holding a box of
        the class (ignored ones too, after the ignore-region filter); ``weight`` (only with
        ``class_weighting="images"``) is the class's share of the overall AP and AR.
    """
    preset = get_preset(preset).with_max_dets(max_dets)
    dataset = load_ground_truth(gt_json)
    results = _check_results(results, dataset)
    if img_ids is not None:
        dataset, results = _restrict(dataset, results, img_ids)
    if preset.ignore_regions:
        dataset, results = drop_ignored(
            dataset, results, preset.ignore_coverage, preset.ignore_rule
        )
    if preset.per_image_max_dets is not None:
        results = top_k_per_image(results, preset.per_image_max_dets)

    if preset.interpolation != "coco101":
        scorer = "pycocotools"
    coco_class, eval_class = _scorer_classes(scorer)
    coco_gt = _to_coco(dataset, coco_class)
    coco_dt = _load_results(coco_gt, results)
    coco_eval = eval_class(coco_gt, coco_dt, "bbox")
    params = coco_eval.params
    params.iouThrs = np.asarray(preset.iou_thresholds, dtype=np.float64)
    params.maxDets = list(preset.max_dets)
    params.areaRng = [[a.lo, a.hi] for a in preset.area_ranges]
    params.areaRngLbl = [a.name for a in preset.area_ranges]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_eval.evaluate()
        if preset.interpolation == "coco101":
            coco_eval.accumulate()
            precision, recall = coco_eval.eval["precision"], coco_eval.eval["recall"]
        else:
            ranks = image_ranks(coco_dt.dataset["annotations"])
            precision, recall = accumulate_voc(coco_eval, ranks, preset.recall_counts_ignored)
    cat_ids = [_py(c) for c in params.catIds]
    num_images = images_per_class(dataset["annotations"], cat_ids)
    weights = None
    if preset.class_weighting == "images":
        weights = num_images.astype(np.float64)
        _count_ignored_only_classes_as_zero(precision, recall, num_images)
    report = {
        "preset": preset.name,
        "scorer": scorer,
        "metrics": _summaries(precision, recall, preset, weights),
        "per_class": _per_class(precision, dataset, cat_ids, preset, num_images, weights),
        "num_images": len(coco_eval._paramsEval.imgIds),
        "num_detections": len(results),
    }
    if keep_arrays:
        report["arrays"] = {"precision": precision, "recall": recall, "cat_ids": cat_ids}
    return report
