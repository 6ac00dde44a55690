"""Prediction with any backend: full images (:class:`Predictor`), tiles (:class:`SlicedPredictor`),
evaluation of either with the evaluator presets (:func:`evaluate_predictor`), and the image/video
input and drawing helpers of ``tools/predict.py`` (:mod:`.sources`)."""
from .evaluate import evaluate_predictor
from .predictor import Predictor, batch_images
from .slicing import SlicedPredictor, merge_detections, tile_grid
from .sources import draw_instances, instances_to_results, iter_sources

__all__ = [
    "Predictor",
    "SlicedPredictor",
    "batch_images",
    "draw_instances",
    "evaluate_predictor",
    "instances_to_results",
    "iter_sources",
    "merge_detections",
    "tile_grid",
]
