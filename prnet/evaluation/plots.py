"""Evaluation pictures written next to an evaluation's ``metrics.json``: precision-recall curves,
a confusion matrix with a background row and column, ground truth against predictions on a few
images, and ``results.png``, the training curves from Detectron2's ``metrics.json``.

matplotlib (Agg backend, no display needed) is imported inside the functions, so scoring without
pictures does not pay for it. Boxes on images are drawn 1 px wide in the image's own pixels (cv2),
with one colour per class and a legend instead of text labels: aerial objects of 5-20 px would
be hidden under Detectron2-style label boxes.

Files (``write_evaluation_plots``): ``pr_curves_per_class.png``, ``pr_curves_per_size.png``,
``confusion_matrix.png`` + ``confusion_matrix.json``, ``gt_vs_pred.png``.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from .ignore_regions import drop_ignored
from .presets import EvalPreset, get_preset

__all__ = [
    "PLOT_FILES",
    "class_colours",
    "confusion_matrix",
    "draw_boxes",
    "draw_gt_vs_pred",
    "plot_confusion_matrix",
    "plot_pr_curves",
    "plot_training_curves",
    "write_evaluation_plots",
]

logger = logging.getLogger(__name__)

PLOT_FILES = (
    "pr_curves_per_class.png",
    "pr_curves_per_size.png",
    "confusion_matrix.png",
    "confusion_matrix.json",
    "gt_vs_pred.png",
)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def class_colours(num_classes: int) -> np.ndarray:
    """(K, 3) uint8 RGB, distinct for up to 20 classes (matplotlib's tab20), cycling beyond."""
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    order = [*range(0, 20, 2), *range(1, 20, 2)]  # the saturated half first
    return np.asarray([cmap(order[k % 20])[:3] for k in range(num_classes)]) * 255


def _curve(precision: np.ndarray) -> np.ndarray:
    """Mean over the leading axes of (…, R) precision, entries < 0 (no ground truth) left out."""
    p = np.where(precision < 0, np.nan, precision).reshape(-1, precision.shape[-1])
    valid = ~np.isnan(p).all(axis=1)
    return np.nanmean(p[valid], axis=0) if valid.any() else np.full(p.shape[-1], np.nan)


def plot_pr_curves(
    precision: np.ndarray,
    class_names: Sequence[str],
    preset: str | EvalPreset,
    output_dir: str,
) -> list[str]:
    """Precision against recall (pycocotools' 101 recall points, the last ``maxDets``): one PNG
    with a curve per class (all sizes) and one with a curve per size bin (mean over classes), each
    with a panel at IoU 0.5 and one averaged over the preset's IoU thresholds.

    Args:
        precision: pycocotools' ``eval["precision"]``, (T, 101, K, A, M), -1 where undefined.
        class_names: K names in the order of the K axis.
    """
    preset = get_preset(preset)
    if precision.shape[1] < 2:
        raise ValueError(
            f"preset {preset.name!r} accumulates one AP value per class ({preset.interpolation}), "
            "not a precision-recall curve"
        )
    plt = _pyplot()
    recall = np.linspace(0, 1, precision.shape[1])
    iou50 = np.flatnonzero(np.isclose(preset.iou_thresholds, 0.5))
    panels = [("IoU 0.50:0.95" if len(preset.iou_thresholds) > 1 else "IoU", slice(None))]
    if len(iou50):
        panels.insert(0, ("IoU 0.50", iou50))
    kinds = {
        "pr_curves_per_class.png": [
            (name, lambda t, k=k: precision[t][:, :, k, 0, -1]) for k, name in enumerate(class_names)
        ],
        "pr_curves_per_size.png": [
            (area.name, lambda t, a=a: precision[t][:, :, :, a, -1].transpose(0, 2, 1))
            for a, area in enumerate(preset.area_ranges)
        ],
    }
    written = []
    for file_name, curves in kinds.items():
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2), squeeze=False)
        for ax, (title, t) in zip(axes[0], panels):
            for name, select in curves:
                p = _curve(select(t))
                if np.isnan(p).all():
                    continue
                ap = np.mean(p) * 100
                ax.plot(recall, p, linewidth=1.2, label=f"{name} {ap:.1f}")
            ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="recall", ylabel="precision")
            ax.set_title(f"{preset.name}: {title}", fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="lower left", title="AP", title_fontsize=7)
        fig.tight_layout()
        path = os.path.join(output_dir, file_name)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def _iou_xywh(dets: np.ndarray, gts: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """(D, G) IoU as pycocotools computes it: for a crowd ground truth, intersection over the
    detection's area."""
    from pycocotools import mask

    if len(dets) == 0 or len(gts) == 0:
        return np.zeros((len(dets), len(gts)))
    return np.asarray(mask.iou(dets.tolist(), gts.tolist(), crowd.astype(np.uint8).tolist()))


def confusion_matrix(
    gt: dict,
    results: list[dict],
    cat_ids: Sequence,
    preset: str | EvalPreset = "coco",
    iou_thresh: float = 0.5,
    score_thresh: float = 0.25,
) -> np.ndarray:
    """(K + 1, K + 1) counts, rows the predicted class and columns the true class, the last row
    and column "background": a detection matched to no ground truth counts in its class's row and
    the background column, a ground-truth box matched by no detection in the background row.

    Per image, detections with ``score >= score_thresh`` are matched to ground truth of any class:
    pairs with IoU >= ``iou_thresh`` taken greedily by IoU, each box once. As in the scorer, boxes
    the preset's ignore-region filter drops do not count, crowd (ignored) ground truth is never
    missed, and a detection left unmatched that covers a crowd box (pycocotools' crowd IoU) is no
    false positive.

    Args:
        gt: COCO ground truth (dataset category ids, ``iscrowd``, images' ``ignore_regions``).
        results: COCO results with dataset category ids.
        cat_ids: the K dataset category ids, in the matrix's order.
    """
    preset = get_preset(preset)
    results = [r for r in results if r["score"] >= score_thresh]
    if preset.ignore_regions:
        gt, results = drop_ignored(gt, results, preset.ignore_coverage, preset.ignore_rule)
    index = {c: k for k, c in enumerate(cat_ids)}
    background = len(cat_ids)
    matrix = np.zeros((background + 1, background + 1), dtype=np.int64)
    gts, dets = defaultdict(list), defaultdict(list)
    for ann in gt["annotations"]:
        if ann["category_id"] in index:
            gts[ann["image_id"]].append(ann)
    for r in results:
        dets[r["image_id"]].append(r)
    for image_id in {img["id"] for img in gt["images"]}:
        g, d = gts.get(image_id, []), dets.get(image_id, [])
        crowd = np.asarray([bool(a.get("iscrowd", 0)) for a in g], dtype=bool)
        iou = _iou_xywh(
            np.asarray([r["bbox"] for r in d], dtype=np.float64).reshape(-1, 4),
            np.asarray([a["bbox"] for a in g], dtype=np.float64).reshape(-1, 4),
            crowd,
        )
        det_free, gt_free = np.ones(len(d), bool), ~crowd
        pairs = np.argwhere((iou >= iou_thresh) & gt_free[None, :])
        for i, j in pairs[np.argsort(-iou[pairs[:, 0], pairs[:, 1]], kind="stable")]:
            if det_free[i] and gt_free[j]:
                det_free[i] = gt_free[j] = False
                matrix[index[d[i]["category_id"]], index[g[j]["category_id"]]] += 1
        on_crowd = (iou[:, crowd] >= iou_thresh).any(axis=1)
        for i in np.flatnonzero(det_free & ~on_crowd):
            matrix[index[d[i]["category_id"]], background] += 1
        for j in np.flatnonzero(gt_free):
            matrix[background, index[g[j]["category_id"]]] += 1
    return matrix


def plot_confusion_matrix(
    matrix: np.ndarray, class_names: Sequence[str], path: str, title: str = ""
) -> str:
    """The counts as a heat map normalised per true class (column), counts written in the cells."""
    plt = _pyplot()
    names = [*class_names, "background"]
    totals = matrix.sum(axis=0, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    n = len(names)
    fig, ax = plt.subplots(figsize=(2.2 + 0.55 * n, 1.8 + 0.5 * n))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="white" if share[i, j] > 0.6 else "black")  # fmt: skip
    ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    ax.set(xlabel="true class", ylabel="predicted class")
    ax.set_title(title or "confusion matrix (share of each true class)", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def draw_boxes(image: np.ndarray, boxes, classes, colours, names, labels: bool, scale: float):
    """``boxes`` (XYWH, times ``scale``) as 1-px rectangles in their class colour, with the class
    name in thin text above each when ``labels``: a 10-px object stays visible."""
    import cv2

    out = np.ascontiguousarray(image)
    for (x, y, w, h), k in zip(boxes, classes):
        p0 = (int(round(x * scale)), int(round(y * scale)))
        p1 = (int(round((x + w) * scale)), int(round((y + h) * scale)))
        colour = tuple(int(c) for c in colours[k])
        cv2.rectangle(out, p0, p1, colour, thickness=1, lineType=cv2.LINE_8)
        if labels:
            cv2.putText(out, names[k], (p0[0], max(p0[1] - 2, 6)), cv2.FONT_HERSHEY_PLAIN, 0.6,
                        colour, 1, cv2.LINE_AA)  # fmt: skip
    return out


def draw_gt_vs_pred(
    images: Sequence[dict],
    gt: dict,
    results: list[dict],
    cat_ids: Sequence,
    class_names: Sequence[str],
    path: str,
    *,
    score_thresh: float = 0.25,
    max_side: int = 640,
    labels: bool = False,
) -> str:
    """A grid, one row per image: ground truth left, predictions with ``score >= score_thresh``
    right, boxes 1 px wide in the colour of their class (``labels``: class names too), a legend of
    the class colours below. Images are shrunk so their long side is at most ``max_side`` and put
    into the figure pixel for pixel, so thin boxes stay thin.

    Args:
        images: dicts with ``image_id`` and ``file_name`` (Detectron2 dataset dicts).
        gt, results: COCO ground truth and results (dataset category ids).
    """
    from matplotlib.patches import Patch

    from prnet.data.image_io import read_image_rgb

    plt = _pyplot()
    index = {c: k for k, c in enumerate(cat_ids)}
    colours = class_colours(len(cat_ids))
    boxes = defaultdict(lambda: ([], [], []))
    for ann in gt["annotations"]:
        if ann["category_id"] in index:
            boxes[ann["image_id"]][0].append((ann["bbox"], index[ann["category_id"]]))
    for r in results:
        if r["score"] >= score_thresh and r["category_id"] in index:
            boxes[r["image_id"]][1].append((r["bbox"], index[r["category_id"]]))
    rows = []
    for info in images:
        image = read_image_rgb(info["file_name"])
        scale = min(1.0, max_side / max(image.shape[:2]))
        if scale < 1:
            import cv2

            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        gt_boxes, det_boxes, _ = boxes[info["image_id"]]
        panels = [
            draw_boxes(image.copy(), [b for b, _ in items], [k for _, k in items], colours,
                        class_names, labels, scale)  # fmt: skip
            for items in (gt_boxes, det_boxes)
        ]
        rows.append((info, panels, len(gt_boxes), len(det_boxes)))
    dpi = 100
    width = max(2 * r[1][0].shape[1] for r in rows) / dpi
    heights = [r[1][0].shape[0] / dpi + 0.25 for r in rows]
    total = sum(heights) + 0.45
    fig = plt.figure(figsize=(width + 0.1, total), dpi=dpi)
    grid = fig.add_gridspec(len(rows), 2, height_ratios=heights, left=0, right=1,
                            top=1 - 0.2 / total, bottom=0.45 / total, hspace=0.08, wspace=0.01)  # fmt: skip
    for r, (info, panels, n_gt, n_det) in enumerate(rows):
        titles = (f"{os.path.basename(info['file_name'])}: ground truth ({n_gt})",
                  f"predictions >= {score_thresh} ({n_det})")  # fmt: skip
        for c, (panel, title) in enumerate(zip(panels, titles)):
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(panel, interpolation="nearest")
            ax.set_title(title, fontsize=7, pad=2)
            ax.axis("off")
    handles = [Patch(color=colours[k] / 255, label=n) for k, n in enumerate(class_names)]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 10), fontsize=7,
               frameon=False)  # fmt: skip
    _save_palette_png(fig, path)
    plt.close(fig)
    return path


def _save_palette_png(fig, path: str) -> None:
    """Save as a 256-colour PNG: photos with thin boxes are 4-5x smaller than in RGB."""
    from PIL import Image

    fig.canvas.draw()
    rgb = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
    rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _read_json_lines(path: str) -> list[dict]:
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a crash
                continue
            if isinstance(record, dict) and "iteration" in record:
                records.append(record)
    return records


def plot_training_curves(metrics_json: str, path: str) -> str:
    """``results.png``: every loss, the learning rate and the evaluation's AP metrics against the
    iteration, from Detectron2's training ``metrics.json`` (one JSON object per line)."""
    records = _read_json_lines(metrics_json)
    if not records:
        raise ValueError(f"{metrics_json} holds no training records (JSON lines with 'iteration')")
    keys = sorted({k for r in records for k, v in r.items() if isinstance(v, (int, float))})
    losses = [k for k in keys if "loss" in k]
    aps = [k for k in keys if "/AP" in k and "-" not in k.split("/", 1)[1]]  # no per-class APs
    panels = [*([k] for k in losses), *([["lr"]] if "lr" in keys else [])]
    by_task = defaultdict(list)
    for k in aps:
        by_task[k.split("/", 1)[0]].append(k)
    panels += list(by_task.values())
    plt = _pyplot()
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), squeeze=False)
    for ax, series in zip(axes.flat, panels):
        for key in series:
            points = [(r["iteration"], r[key]) for r in records
                      if isinstance(r.get(key), (int, float)) and np.isfinite(r[key])]  # fmt: skip
            if points:
                x, y = zip(*points)
                ax.plot(x, y, marker="." if len(points) < 30 else None, linewidth=1,
                        label=key.split("/", 1)[-1])  # fmt: skip
        ax.set_title(series[0] if len(series) == 1 else series[0].split("/")[0], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=6)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def write_evaluation_plots(
    output_dir: str,
    report: dict,
    gt: dict,
    results: list[dict],
    preset: str | EvalPreset,
    images: Sequence[dict] = (),
    *,
    score_thresh: float = 0.25,
    num_images: int = 4,
    labels: bool = False,
) -> list[str]:
    """Write every picture of one evaluation into ``output_dir`` (see the module docstring).

    Args:
        report: ``evaluate_coco_results(..., keep_arrays=True)``.
        gt, results: what was scored (COCO dicts, dataset category ids).
        images: dataset dicts (``image_id``, ``file_name``) to draw; the first ``num_images``
            holding ground truth are drawn (no grid without any).
    """
    preset = get_preset(preset)
    arrays = report["arrays"]
    cat_ids = arrays["cat_ids"]
    names_by_id = {c["id"]: c.get("name", str(c["id"])) for c in gt["categories"]}
    names = [names_by_id[c] for c in cat_ids]
    os.makedirs(output_dir, exist_ok=True)
    written = []
    if preset.interpolation == "coco101":
        written += plot_pr_curves(arrays["precision"], names, preset, output_dir)
    else:
        logger.info(f"No precision-recall curves for preset {preset.name!r} ({preset.interpolation}).")
    matrix = confusion_matrix(gt, results, cat_ids, preset, score_thresh=score_thresh)
    with open(os.path.join(output_dir, "confusion_matrix.json"), "w", encoding="utf-8") as f:
        json.dump({"rows": "predicted class", "columns": "true class", "names": [*names, "background"],
                   "iou_thresh": 0.5, "score_thresh": score_thresh, "preset": preset.name,
                   "counts": matrix.tolist()}, f, indent=1)  # fmt: skip
    written.append(os.path.join(output_dir, "confusion_matrix.json"))
    title = f"{preset.name}: IoU >= 0.5, score >= {score_thresh} (share of each true class)"
    written.append(plot_confusion_matrix(matrix, names, os.path.join(output_dir, "confusion_matrix.png"),
                                         title))  # fmt: skip
    with_gt = {a["image_id"] for a in gt["annotations"]}
    chosen = [d for d in images if d["image_id"] in with_gt][:num_images]
    if chosen:
        written.append(draw_gt_vs_pred(chosen, gt, results, cat_ids, names,
                                       os.path.join(output_dir, "gt_vs_pred.png"),
                                       score_thresh=score_thresh, labels=labels))  # fmt: skip
    return written
