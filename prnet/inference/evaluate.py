"""Score any predictor (eager, exported, sliced) with the evaluator presets of ``prnet.evaluation``.

The same :class:`~prnet.evaluation.AerialEvaluator` as training-time evaluation sees the same
inputs: full-image prediction uses ``YOLODatasetMapper(is_train=False, image_size)``; sliced
prediction decodes the original image the same way (``read_image_rgb``) and merges tiles in
original pixels.
"""
from __future__ import annotations

from detectron2.data import DatasetCatalog
from tqdm import tqdm

from prnet.data.image_io import read_image_rgb
from prnet.data.mapper import YOLODatasetMapper
from prnet.evaluation import AerialEvaluator

from .predictor import Predictor
from .slicing import SlicedPredictor

__all__ = ["evaluate_predictor"]


def evaluate_predictor(
    predictor: Predictor | SlicedPredictor,
    dataset_name: str,
    preset: str = "coco",
    *,
    output_dir: str | None = None,
    max_dets_per_image: int | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> dict:
    """Predict every image of a registered dataset and score it; returns the evaluator's dict
    (``{"bbox": {"AP", "AP50", ...}}``). ``limit``: only the first images (smoke runs)."""
    records = DatasetCatalog.get(dataset_name)[:limit]
    evaluator = AerialEvaluator(
        dataset_name, preset, output_dir, max_dets_per_image=max_dets_per_image, distributed=False
    )
    evaluator.reset()
    sliced = isinstance(predictor, SlicedPredictor)
    base = predictor.predictor if sliced else predictor
    mapper = YOLODatasetMapper(is_train=False, image_size=base.image_size or 640)
    step = 1 if sliced else base.batch_size
    bar = tqdm(total=len(records), desc=f"eval {dataset_name}", disable=not progress, unit="img")
    for start in range(0, len(records), step):
        chunk = records[start : start + step]
        if sliced:
            image = read_image_rgb(chunk[0]["file_name"])
            inputs = [{"image_id": chunk[0]["image_id"]}]
            outputs = [predictor(image)]
        else:
            inputs = [mapper(r) for r in chunk]
            outputs = base.predict_inputs(inputs)
        evaluator.process(inputs, [{"instances": o} for o in outputs])
        bar.update(len(chunk))
    bar.close()
    return evaluator.evaluate()
