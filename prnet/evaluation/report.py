"""Present a scoring report (``evaluate_coco_results``'s dict): flat metrics, tables, JSON."""

from __future__ import annotations

import json
import math
import os
from collections import OrderedDict

from tabulate import tabulate

__all__ = ["flat_metrics", "per_class_table", "report_to_json", "save_report"]


def flat_metrics(report: dict) -> OrderedDict:
    """Detectron2-style flat dict: the summary metrics plus ``AP-<class name>`` per class."""
    out = OrderedDict(report["metrics"])
    for row in report["per_class"]:
        out[f"AP-{row['name']}"] = row["AP"]
    return out


def per_class_table(report: dict) -> str:
    """A pipe table with one row per class: ground-truth count, images holding the class, the
    class's weight in the mean (``class_weighting="images"`` only) and AP/AP50/AP75 (percent)."""
    first = report["per_class"][0] if report["per_class"] else {}
    columns = {"num_gt": "#gt", "num_images": "#img", "weight": "weight"}
    columns = {k: v for k, v in columns.items() if k in first}
    keys = [k for k in ("AP", "AP50", "AP75") if k in first]
    rows = [[r["name"], *(r[k] for k in [*columns, *keys])] for r in report["per_class"]]
    return tabulate(
        rows,
        headers=["category", *columns.values(), *keys],
        tablefmt="pipe",
        floatfmt=".3f",
        numalign="left",
    )


def _json_safe(value):
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy / torch scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def report_to_json(report: dict) -> str:
    """Strict JSON (undefined metrics, NaN in Python, become ``null``)."""
    return json.dumps(_json_safe(report), indent=2, allow_nan=False)


def save_report(report: dict, path: str | os.PathLike) -> None:
    with open(os.fspath(path), "w", encoding="utf-8") as f:
        f.write(report_to_json(report))
