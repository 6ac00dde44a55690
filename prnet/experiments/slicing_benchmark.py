"""prnet's sliced prediction against SAHI's ``get_sliced_prediction`` on the same model, tiles and
frame: wall time of each, and whether they find the same detections (matched one-to-one by class
at IoU >= ``match_iou``). Both run the same :class:`prnet.inference.Predictor` (SAHI through
:class:`prnet.integrations.sahi.PRNetDetectionModel`), so the difference is the slicing loop, the
batching and the merge, not the network.

``tools/benchmark_slicing.py`` is its command line.
"""
from __future__ import annotations

import json
import logging
import os
import time

import numpy as np
import torch

from prnet.analysis import cpu_name
from prnet.export import load_exported
from prnet.export.compare import match_one_to_one
from prnet.inference import Predictor, SlicedPredictor

__all__ = ["benchmark_slicing", "match_detections", "synthetic_frame"]

logger = logging.getLogger(__name__)

#: prnet merge method -> SAHI's postprocess type and match metric with the same rule
SAHI_POSTPROCESS = {"greedy": ("GREEDYNMM", "IOS"), "nms": ("NMS", "IOU")}


def synthetic_frame(height: int = 2160, width: int = 3840, seed: int = 0) -> np.ndarray:
    """One built-in synthetic aerial scene of any size (RGB uint8)."""
    from prnet.data.synthetic.generate import render_image

    image, _, _ = render_image(np.random.default_rng(seed), height, width)
    return image


def match_detections(a: dict, b: dict, iou: float = 0.99) -> dict:
    """How many detections of ``a`` and ``b`` (``boxes``, ``scores``, ``classes``) match one-to-one
    by class at IoU >= ``iou`` (:func:`prnet.export.compare.match_one_to_one`)."""
    matched_a, matched_b = match_one_to_one(a, b, iou)
    return dict(count_a=len(matched_a), count_b=len(matched_b), matched=int(matched_a.sum()),
                unmatched_a=int((~matched_a).sum()), unmatched_b=int((~matched_b).sum()))  # fmt: skip


def _sahi_detections(result) -> dict:
    preds = result.object_prediction_list
    boxes = [[p.bbox.minx, p.bbox.miny, p.bbox.maxx, p.bbox.maxy] for p in preds]
    return dict(
        boxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor([p.score.value for p in preds], dtype=torch.float32),
        classes=torch.tensor([p.category.id for p in preds], dtype=torch.int64),
    )


def _timed_alternately(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Run each of ``fns`` once per round, ``repeats`` rounds: on a shared, noisy machine a slow
    spell then hits both sides instead of one. Returns (last outputs, timings) by name."""
    times = {name: [] for name in fns}
    outputs = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            outputs[name] = fn()
            times[name].append(time.perf_counter() - start)
    stats = {name: dict(median_s=float(np.median(t)), min_s=min(t), max_s=max(t), runs=repeats)
             for name, t in times.items()}  # fmt: skip
    return outputs, stats


def benchmark_slicing(
    model_path: str,
    frame: np.ndarray,
    tile: int = 640,
    overlap: float = 0.2,
    score_thresh: float = 0.25,
    merge: str = "greedy",
    tile_batch: int = 8,
    repeats: int = 3,
    match_iou: float = 0.99,
    output: str | None = None,
    device: str | None = None,
) -> dict:
    """Time prnet's :class:`SlicedPredictor` and SAHI's loop (``batch_size=1``, its default) on
    ``frame`` with the exported ``model_path``; compare their detections. Writes ``output``."""
    from sahi.predict import get_sliced_prediction

    from prnet.integrations.sahi import PRNetDetectionModel

    backend = load_exported(model_path, device=device)
    # A graph without NMS takes the score threshold before its (host) NMS: the same rule in both
    # runs, and far less work than a graph whose NMS was exported with a threshold of 0.001.
    rules = {} if backend.with_nms else dict(score_thresh=score_thresh)
    predictor = Predictor(backend, image_size=tile, batch_size=tile_batch, **rules)
    sliced = SlicedPredictor(predictor, tile, overlap, full_image=True, merge=merge,
                             merge_thresh=0.5, match_metric=SAHI_POSTPROCESS[merge][1].lower(),
                             tile_batch=tile_batch, score_thresh=score_thresh,
                             max_det=100_000)  # fmt: skip  (SAHI keeps every merged detection)
    sahi_model = PRNetDetectionModel(model=predictor, image_size=tile, confidence_threshold=score_thresh)
    postprocess, metric = SAHI_POSTPROCESS[merge]

    def run_sahi():
        return get_sliced_prediction(
            frame, sahi_model, slice_height=tile, slice_width=tile, overlap_height_ratio=overlap,
            overlap_width_ratio=overlap, perform_standard_pred=True, postprocess_type=postprocess,
            postprocess_match_metric=metric, postprocess_match_threshold=0.5,
            postprocess_class_agnostic=False, verbose=0, force_postprocess_type=True,
        )  # fmt: skip

    sliced(frame)  # warm-up, both share the backend
    outputs, timings = _timed_alternately({"prnet": lambda: sliced(frame), "sahi": run_sahi}, repeats)
    prnet_out, sahi_out = outputs["prnet"], outputs["sahi"]
    prnet_time, sahi_time = timings["prnet"], timings["sahi"]
    prnet_dets = dict(boxes=prnet_out.pred_boxes.tensor, scores=prnet_out.scores,
                      classes=prnet_out.pred_classes)  # fmt: skip
    report = dict(
        model=model_path,
        device=str(backend.device),
        frame=list(frame.shape[:2]),
        tile=tile,
        overlap=overlap,
        score_thresh=score_thresh,
        merge=f"{merge} (SAHI {postprocess}/{metric}, threshold 0.5, per class)",
        tile_batch=tile_batch,
        cpu=cpu_name(),
        threads=torch.get_num_threads(),
        prnet=prnet_time,
        sahi=sahi_time,
        speedup=sahi_time["median_s"] / prnet_time["median_s"],
        detections=match_detections(prnet_dets, _sahi_detections(sahi_out), match_iou),
        match_iou=match_iou,
    )
    logger.info("prnet %.2f s, SAHI %.2f s (%.2fx); detections %s", prnet_time["median_s"],
                sahi_time["median_s"], report["speedup"], report["detections"])  # fmt: skip
    if output:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        with open(output, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return report
