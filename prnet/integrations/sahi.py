"""prnet models inside SAHI: ``PRNetDetectionModel`` is a ``sahi.models.base.DetectionModel``, so
``sahi.predict.get_sliced_prediction`` (and SAHI's CLI-free helpers) can run an exported prnet file,
a :class:`prnet.export.Backend` or a :class:`prnet.inference.Predictor`::

    from sahi.predict import get_sliced_prediction
    from prnet.integrations.sahi import PRNetDetectionModel

    model = PRNetDetectionModel(model_path="prnet_s.onnx", image_size=640, confidence_threshold=0.25)
    result = get_sliced_prediction("frame.jpg", model, slice_height=640, slice_width=640)

SAHI is imported here and nowhere else in prnet (``pip install prnet[sahi]``). prnet's own
:class:`prnet.inference.SlicedPredictor` does the same job with tiles in batches and a vectorised
merge (``tools/benchmark_slicing.py`` compares the two).
"""
from __future__ import annotations

import numpy as np
import torch

try:
    from sahi.models.base import DetectionModel
    from sahi.prediction import ObjectPrediction
    from sahi.utils.compatibility import fix_full_shape_list, fix_shift_amount_list
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(f"prnet.integrations.sahi needs SAHI ({e}); pip install prnet[sahi]") from e

from prnet.export import Backend, EagerBackend, load_exported
from prnet.inference import Predictor

__all__ = ["PRNetDetectionModel"]


class PRNetDetectionModel(DetectionModel):
    """SAHI detection model over a prnet exported file (``model_path``) or an in-memory ``model``
    (a ``Predictor``, a ``Backend`` or a ``PRNetDetector``). ``image_size``: long side each slice
    (or the full image) is resized to; ``batch_size``: slices per backend call when SAHI passes
    several (``get_sliced_prediction(..., batch_size=N)``). Category names come from
    ``category_mapping`` (``{"0": "pedestrian", ...}``) or default to the class indices."""

    def __init__(self, model_path=None, model=None, image_size: int = 640, batch_size: int = 8, **kwargs):
        self.batch_size = int(batch_size)
        super().__init__(model_path=model_path, model=model, image_size=image_size, **kwargs)

    def load_model(self) -> None:
        if not self.model_path:
            raise ValueError("PRNetDetectionModel needs model_path (an exported file) or model")
        self.set_model(load_exported(self.model_path, device=str(self.device)))

    def set_model(self, model, **kwargs) -> None:
        if isinstance(model, Predictor):
            predictor = model
        elif isinstance(model, Backend):
            predictor = Predictor(model, self.image_size, self.batch_size)
        elif isinstance(model, torch.nn.Module):
            predictor = Predictor(EagerBackend(model.to(self.device)), self.image_size, self.batch_size)
        else:
            raise TypeError(f"model must be a Predictor, Backend or PRNetDetector, got {type(model)}")
        self.model = predictor
        if not self.category_mapping:
            self.category_mapping = {str(i): str(i) for i in range(predictor.num_classes)}

    def perform_inference(self, image: np.ndarray) -> None:
        """One RGB ``(H, W, 3)`` uint8 image."""
        self._original_predictions = [self.model(np.ascontiguousarray(image))]

    def perform_batch_inference(self, images: list[np.ndarray]) -> None:
        """Several slices in the predictor's batches (SAHI's default runs them one by one)."""
        self._batch_images = None
        self._original_shapes = [im.shape for im in images]
        self._original_predictions = self.model([np.ascontiguousarray(im) for im in images])

    @property
    def num_categories(self) -> int:
        return self.model.num_classes

    def _create_object_prediction_list_from_original_predictions(
        self, shift_amount_list=[[0, 0]], full_shape_list=None  # noqa: B006 (SAHI's signature)
    ) -> None:
        shifts = fix_shift_amount_list(shift_amount_list)
        shapes = fix_full_shape_list(full_shape_list)
        per_image = []
        for i, instances in enumerate(self._original_predictions):
            keep = instances.scores >= self.confidence_threshold
            boxes = instances.pred_boxes.tensor[keep].clamp_min(0).tolist()
            scores = instances.scores[keep].tolist()
            classes = instances.pred_classes[keep].tolist()
            shift = shifts[i] if i < len(shifts) else [0, 0]
            shape = shapes[i] if shapes else list(instances.image_size)
            per_image.append([
                ObjectPrediction(bbox=box, category_id=int(c), score=float(s), shift_amount=shift,
                                 category_name=self.category_mapping.get(str(c), str(c)),
                                 full_shape=shape)  # fmt: skip
                for box, s, c in zip(boxes, scores, classes)
            ])
        self._object_prediction_list_per_image = per_image
