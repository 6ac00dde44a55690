"""Time the two scorers of ``prnet.evaluation`` (faster-coco-eval and pycocotools) on a generated
input the size of VisDrone2019-DET-val (548 images, ~82k ground-truth boxes, ~274k detections) and
check that they give the same metrics. ``tools/benchmark_eval.py`` is its command line.

The input is generated with a fixed seed: tiny objects (median side ~12 px, AI-TOD's bins all
filled), ten classes, a few crowd boxes and ignore regions, every box found ~1.5 times with jitter
plus random false positives. Times are wall seconds of ``evaluate_coco_results`` (filtering,
matching, accumulation, summaries) on a machine that may be shared: compare them with each other.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time

import numpy as np

from prnet.evaluation import evaluate_coco_results

__all__ = ["benchmark_scorers", "visdrone_sized_problem", "main"]


def visdrone_sized_problem(
    num_images: int = 548, gt_per_image: int = 150, dets_per_image: int = 500, seed: int = 0
) -> tuple[dict, list[dict]]:
    """(COCO ground truth, COCO results) with about ``num_images * gt_per_image`` boxes and
    ``num_images * dets_per_image`` detections."""
    rng = np.random.default_rng(seed)
    width, height, num_classes = 1360, 765, 10
    gt = {"images": [], "annotations": [],
          "categories": [{"id": c, "name": f"class{c}"} for c in range(1, num_classes + 1)]}  # fmt: skip
    dets = []
    for image_id in range(1, num_images + 1):
        img = {"id": image_id, "width": width, "height": height, "file_name": f"{image_id:07d}.jpg"}
        if image_id % 4 == 0:
            img["ignore_regions"] = [[float(v) for v in (*rng.uniform(0, 1000, 2), 150, 100)]]
        gt["images"].append(img)
        n_gt = int(rng.poisson(gt_per_image))
        sides = np.clip(rng.lognormal(np.log(12), 0.6, n_gt), 2, 200)
        aspect = rng.uniform(0.6, 1.6, n_gt)
        boxes = np.stack([rng.uniform(0, width - 200, n_gt), rng.uniform(0, height - 200, n_gt),
                          sides, sides * aspect], axis=1)  # fmt: skip
        classes = rng.integers(1, num_classes + 1, n_gt)
        crowd = rng.random(n_gt) < 0.02
        for box, cat, c in zip(boxes.tolist(), classes.tolist(), crowd.tolist()):
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": image_id,
                                      "category_id": cat, "bbox": box, "area": box[2] * box[3],
                                      "iscrowd": int(c)})  # fmt: skip
        # ~1.5 jittered copies per box (found, duplicated or missed), the rest random
        copies = rng.poisson(1.5, n_gt)
        src = np.repeat(np.arange(n_gt), copies)
        jitter = rng.normal(0, 0.15, (len(src), 4)) * boxes[src][:, [2, 3, 2, 3]]
        found = boxes[src] + jitter
        found[:, 2:] = np.abs(found[:, 2:]) + 1
        cls = np.where(rng.random(len(src)) < 0.9, classes[src], rng.integers(1, 11, len(src)))
        n_fp = max(dets_per_image - len(src), 0)
        fp = np.stack([rng.uniform(0, width - 50, n_fp), rng.uniform(0, height - 50, n_fp),
                       *rng.uniform(2, 40, (2, n_fp))], axis=1)  # fmt: skip
        all_boxes = np.concatenate([found, fp])
        all_cls = np.concatenate([cls, rng.integers(1, num_classes + 1, n_fp)])
        scores = np.concatenate([rng.beta(4, 2, len(src)), rng.beta(1.5, 4, n_fp)])
        for box, cat, score in zip(all_boxes.tolist(), all_cls.tolist(), scores.tolist()):
            dets.append({"image_id": image_id, "category_id": cat, "bbox": box, "score": score})
    return gt, dets


def _max_abs_diff(a: dict, b: dict) -> float:
    diffs = [abs(a[k] - b[k]) for k in a if not (math.isnan(a[k]) and math.isnan(b[k]))]
    return max(diffs, default=0.0)


def benchmark_scorers(presets=("coco", "aitod"), scorers=("faster", "pycocotools"), seed=0) -> dict:
    gt, dets = visdrone_sized_problem(seed=seed)
    out = {
        "input": {"images": len(gt["images"]), "gt_boxes": len(gt["annotations"]),
                  "detections": len(dets), "seed": seed},
        "machine": {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "load_average_before": os.getloadavg()},
        "presets": {},
    }  # fmt: skip
    for preset in presets:
        row = {}
        for scorer in scorers:
            start = time.perf_counter()
            report = evaluate_coco_results(gt, dets, preset, scorer=scorer)
            row[scorer] = {"seconds": round(time.perf_counter() - start, 2),
                           "scorer_run": report["scorer"], "metrics": report["metrics"]}  # fmt: skip
        if len(scorers) == 2:
            a, b = (row[s]["metrics"] for s in scorers)
            row["max_abs_metric_diff"] = _max_abs_diff(a, b)
            row["speedup"] = round(row[scorers[1]]["seconds"] / row[scorers[0]]["seconds"], 2)
        out["presets"][preset] = row
    out["machine"]["load_average_after"] = os.getloadavg()
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["coco", "aitod"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="docs/benchmarks/eval_scorers.json")
    args = parser.parse_args(argv)
    result = benchmark_scorers(tuple(args.presets), seed=args.seed)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, allow_nan=False, default=lambda v: None)
    for name, row in result["presets"].items():
        print(f"{name}: faster {row['faster']['seconds']} s, pycocotools {row['pycocotools']['seconds']}"
              f" s ({row['speedup']}x), AP {row['faster']['metrics']['AP']:.3f} / "
              f"{row['pycocotools']['metrics']['AP']:.3f}, AP50 {row['faster']['metrics']['AP50']:.3f} / "
              f"{row['pycocotools']['metrics']['AP50']:.3f}, max |diff| {row['max_abs_metric_diff']:.2e}")
    return result
