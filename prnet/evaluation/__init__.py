"""Scoring under named protocols (``coco``, ``aitod``, ``visdrone``, ``uavdt``): one COCO-compatible
evaluator for Detectron2 (``AerialEvaluator``) and a plain function for result files
(``evaluate_coco_results``), on faster-coco-eval or pycocotools; pictures of an evaluation in
``prnet.evaluation.plots`` (imported on use: it needs matplotlib)."""

from .evaluator import AerialEvaluator
from .ignore_regions import covered_fraction, drop_ignored, visdrone_raster_fraction
from .presets import PRESETS, AreaRange, EvalPreset, available_presets, get_preset
from .report import flat_metrics, per_class_table, report_to_json, save_report
from .scoring import SCORERS, evaluate_coco_results, load_ground_truth
from .visdrone_protocol import top_k_per_image, voc_all_point_ap

__all__ = [
    "AerialEvaluator",
    "AreaRange",
    "EvalPreset",
    "PRESETS",
    "SCORERS",
    "available_presets",
    "covered_fraction",
    "drop_ignored",
    "evaluate_coco_results",
    "flat_metrics",
    "get_preset",
    "load_ground_truth",
    "per_class_table",
    "report_to_json",
    "save_report",
    "top_k_per_image",
    "visdrone_raster_fraction",
    "voc_all_point_ap",
]
