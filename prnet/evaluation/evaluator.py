"""Detectron2 ``DatasetEvaluator`` that scores a model under one protocol preset.

It collects the model's ``Instances`` as COCO results (Detectron2's ``instances_to_coco_json``),
gathers them from all workers like ``COCOEvaluator``, maps contiguous class ids back to the
dataset's json ids, and scores them with ``evaluate_coco_results`` (the one implementation).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence

import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.evaluation.coco_evaluation import instances_to_coco_json
from detectron2.utils import comm
from detectron2.utils.logger import create_small_table

from .presets import EvalPreset, get_preset
from .report import flat_metrics, per_class_table, save_report
from .scoring import evaluate_coco_results, load_ground_truth

__all__ = ["AerialEvaluator"]

logger = logging.getLogger(__name__)


class AerialEvaluator(DatasetEvaluator):
    """COCO-compatible box evaluator with protocol presets (``coco``, ``aitod``, ``visdrone``, ...).

    Inputs to ``process`` are the model's input dicts (``image_id`` needed) and outputs
    ``[{"instances": Instances(pred_boxes XYXY_ABS, scores, pred_classes contiguous 0..K-1)}]``
    in original-image coordinates. Every processed image is scored, including those without
    detections; ground-truth images never processed are left out (so a subset run scores the
    subset).

    ``evaluate()`` returns ``{"bbox": {"AP", "AP50", "AP75", <size-bin APs>, "AR@<m>", ...,
    "AP-<class>"}}`` in percent on the main process ({} elsewhere), logs a per-class table, and
    with ``output_dir`` writes ``coco_instances_results.json`` (dataset category ids) and
    ``metrics.json`` (preset, metrics, per-class rows; undefined values as null) and, with
    ``plots``, the pictures of ``prnet.evaluation.plots`` (PR curves, confusion matrix, ground truth
    against predictions on the first ``plot_images`` images that hold ground truth).
    """

    def __init__(
        self,
        dataset_name: str,
        preset: str | EvalPreset = "coco",
        output_dir: str | None = None,
        *,
        max_dets_per_image: int | Sequence[int] | None = None,
        distributed: bool = True,
        scorer: str = "faster",
        plots: bool = True,
        plot_images: int = 4,
        plot_score_thresh: float = 0.25,
        plot_labels: bool = False,
    ):
        """
        Args:
            dataset_name: a registered dataset whose metadata has ``json_file`` (COCO ground
                truth, e.g. from ``prnet.data.datasets.coco.register_coco_with_ignore``).
            preset: protocol name or ``EvalPreset``.
            output_dir: where to write results and metrics (optional).
            max_dets_per_image: override the preset's detection budget
                (``EvalPreset.with_max_dets``).
            distributed: gather predictions from all workers before scoring.
            scorer: ``faster`` (faster-coco-eval) or ``pycocotools`` (``evaluate_coco_results``).
            plots: with ``output_dir``, also write the evaluation pictures (matplotlib).
            plot_images: how many images the ground-truth-vs-prediction grid shows.
            plot_score_thresh: detections below this score are left out of the confusion matrix
                and the grid.
            plot_labels: write class names next to the boxes in the grid (default: a legend).
        """
        self._preset = get_preset(preset).with_max_dets(max_dets_per_image)
        self._output_dir = output_dir
        self._distributed = distributed
        self._scorer = scorer
        self._dataset_name = dataset_name
        self._plots = dict(num_images=plot_images, score_thresh=plot_score_thresh, labels=plot_labels)
        self._plots_enabled = bool(plots)
        metadata = MetadataCatalog.get(dataset_name)
        json_file = metadata.get("json_file")
        if not json_file:
            raise ValueError(
                f"Dataset {dataset_name!r} has no 'json_file' in its metadata; AerialEvaluator "
                "scores against COCO-format ground truth (register the dataset with "
                "prnet.data.datasets.coco.register_coco_with_ignore)."
            )
        self._gt = load_ground_truth(json_file)
        id_map = metadata.get("thing_dataset_id_to_contiguous_id")
        if id_map is None:
            # The rule Detectron2's load_coco_json uses when it fills this metadata.
            id_map = {c: i for i, c in enumerate(sorted(c["id"] for c in self._gt["categories"]))}
        self._contiguous_to_json = {int(v): k for k, v in id_map.items()}
        self._cpu = torch.device("cpu")
        self.reset()

    def reset(self):
        self._predictions: list[dict] = []

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            pred = {"image_id": inp["image_id"], "instances": []}
            if "instances" in out:
                instances = out["instances"].to(self._cpu)
                pred["instances"] = instances_to_coco_json(instances, inp["image_id"])
            self._predictions.append(pred)

    def _to_dataset_ids(self, results: list[dict]) -> list[dict]:
        num_classes = len(self._contiguous_to_json)
        for r in results:
            c = int(r["category_id"])
            if c not in self._contiguous_to_json:
                raise ValueError(
                    f"A prediction has class {c}, but the dataset has {num_classes} classes "
                    f"(contiguous ids 0..{num_classes - 1})."
                )
            r["category_id"] = self._contiguous_to_json[c]
        return results

    def _write_plots(self, report: dict, results: list[dict], img_ids: list) -> None:
        """The pictures, next to metrics.json; a failure is logged, never fatal (the metrics are
        what counts, and they are already written)."""
        from .plots import write_evaluation_plots

        try:
            scored = set(img_ids)
            gt = dict(
                self._gt,
                images=[i for i in self._gt["images"] if i["id"] in scored],
                annotations=[a for a in self._gt["annotations"] if a["image_id"] in scored],
            )
            images = [d for d in DatasetCatalog.get(self._dataset_name) if d["image_id"] in scored]
            write_evaluation_plots(self._output_dir, report, gt, results, self._preset, images,
                                   **self._plots)  # fmt: skip
        except Exception as e:  # noqa: BLE001 - pictures are a by-product of scoring
            logger.warning(f"[AerialEvaluator] could not write the evaluation plots: {e!r}")

    def evaluate(self):
        if self._distributed:
            comm.synchronize()
            predictions = list(itertools.chain(*comm.gather(self._predictions, dst=0)))
            if not comm.is_main_process():
                return {}
        else:
            predictions = self._predictions
        if not predictions:
            logger.warning("[AerialEvaluator] Did not receive any predictions.")
            return {}
        seen = [p["image_id"] for p in predictions]
        if len(seen) != len(set(seen)):  # e.g. a sampler that repeats images across processes
            twice = sorted({i for i in seen if seen.count(i) > 1}, key=str)[:10]
            raise ValueError(f"images evaluated more than once (their AP would count twice): {twice}")
        self.num_images_scored = len(seen)

        results = self._to_dataset_ids([r for p in predictions for r in p["instances"]])
        img_ids = sorted({p["image_id"] for p in predictions})
        plot = self._plots_enabled and bool(self._output_dir)
        report = evaluate_coco_results(
            self._gt, results, self._preset, img_ids=img_ids, scorer=self._scorer, keep_arrays=plot
        )
        arrays = report.pop("arrays", None)
        logger.info(
            f"Evaluation results ({report['preset']} protocol, {report['num_images']} images):\n"
            + create_small_table(report["metrics"])
        )
        logger.info("Per-category bbox AP:\n" + per_class_table(report))
        if self._output_dir:
            os.makedirs(self._output_dir, exist_ok=True)
            with open(os.path.join(self._output_dir, "coco_instances_results.json"), "w") as f:
                json.dump(results, f)
            save_report(report, os.path.join(self._output_dir, "metrics.json"))
        if plot:
            self._write_plots(dict(report, arrays=arrays), results, img_ids)
        return OrderedDict(bbox=flat_metrics(report))
