"""Backend-agnostic prediction: images -> ``Instances`` in original-image pixels.

A :class:`Predictor` wraps any :class:`prnet.export.Backend` (eager PyTorch, TorchScript, ONNX
Runtime, TensorRT) and does, around it, what Detectron2 does around the eager model: resize so the
long side is ``image_size`` (as ``YOLODatasetMapper(is_train=False)``), batch with bottom/right
padding, turn outputs into detections (host-side rules for raw graphs), and rescale with
Detectron2's ``detector_postprocess``. The eager model given the same inputs returns the same
detections (this is what the parity tests check).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Instances

from prnet.data import augment as A
from prnet.export.graph import outputs_to_instances
from prnet.export.runtime import Backend, EagerBackend

__all__ = ["DEFAULT_IMAGE_SIZE", "MODEL_SIZE", "Predictor", "batch_images"]

#: ``image_size`` that means "the size the model was tested at" (its metadata), else
#: :data:`DEFAULT_IMAGE_SIZE`.
MODEL_SIZE = "model"
DEFAULT_IMAGE_SIZE = 640


def batch_images(images: Sequence[torch.Tensor], pad_value: Sequence[float]) -> torch.Tensor:
    """``(3, h_i, w_i)`` tensors -> ``(N, 3, max h, max w)`` float32, padded bottom/right with
    ``pad_value`` (the model's ``pixel_mean``, i.e. zero after normalisation, as ``ImageList``)."""
    h = max(int(im.shape[-2]) for im in images)
    w = max(int(im.shape[-1]) for im in images)
    fill = torch.as_tensor(pad_value, dtype=torch.float32, device=images[0].device).view(1, 3, 1, 1)
    out = fill.expand(len(images), 3, h, w).clone()
    for i, im in enumerate(images):
        out[i, :, : im.shape[-2], : im.shape[-1]] = im
    return out


class Predictor:
    """Run a backend on images of any size and number.

    Args:
        backend: a :class:`prnet.export.Backend` (see :func:`prnet.export.load_exported`).
        image_size: long side the images are resized to (``None``: keep the size; ``"model"``:
            the test size in the model's metadata, else 640).
        batch_size: images per backend call.
        score_thresh, nms_thresh, topk, max_det: detection rules for raw (no-NMS) graphs;
            default to the values recorded at export. NMS graphs applied theirs in the graph.
    """

    def __init__(
        self,
        backend: Backend,
        image_size: int | str | None = MODEL_SIZE,
        batch_size: int = 8,
        *,
        score_thresh: float | None = None,
        nms_thresh: float | None = None,
        topk: int | None = None,
        max_det: int | None = None,
    ):
        self.backend = backend
        meta = backend.meta
        if image_size == MODEL_SIZE:
            image_size = int(meta.get("image_size") or DEFAULT_IMAGE_SIZE)
        self.image_size = image_size
        self.batch_size = int(batch_size)
        self.rules = dict(
            score_thresh=float(meta["score_thresh"] if score_thresh is None else score_thresh),
            nms_thresh=float(meta["nms_thresh"] if nms_thresh is None else nms_thresh),
            topk=int(meta["topk_candidates"] if topk is None else topk),
            max_det=int(meta["max_det"] if max_det is None else max_det),
        )
        self.pad_value = tuple(meta.get("pixel_mean", (0.0, 0.0, 0.0)))

    @classmethod
    def from_model(
        cls, model: torch.nn.Module, image_size: int | str | None = MODEL_SIZE, **kwargs
    ) -> "Predictor":
        """Eager PyTorch predictor of a ``PRNetDetector``; ``with_nms`` goes to the backend."""
        with_nms = kwargs.pop("with_nms", False)
        return cls(EagerBackend(model, with_nms), image_size, **kwargs)

    @property
    def num_classes(self) -> int:
        return int(self.backend.meta["num_classes"])

    @property
    def class_names(self) -> list[str] | None:
        """Class names from the model's metadata (``None`` when it has none)."""
        names = self.backend.meta.get("class_names")
        return list(names) if names else None

    def resize(self, image: np.ndarray) -> torch.Tensor:
        """RGB ``(H, W, 3)`` uint8 -> ``(3, h, w)`` tensor, long side ``image_size``."""
        if self.image_size is not None:
            image, _ = A.resize_long_side(image, self.image_size)
        return torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))

    def run_tensors(self, images: Sequence[torch.Tensor]) -> list[Instances]:
        """``(3, h, w)`` model-input tensors -> ``Instances`` in those tensors' pixels.

        Batches of ``batch_size``; for NMS graphs a batch holds images of one size only (the
        graph clips to the batch's size), raw graphs pad mixed sizes like ``ImageList``.
        """
        order = list(range(len(images)))
        if self.backend.with_nms:  # group equal sizes, keep the order otherwise
            order.sort(key=lambda i: tuple(images[i].shape[-2:]))
        results: list[Instances | None] = [None] * len(images)
        start = 0
        while start < len(order):
            chunk = order[start : start + self.batch_size]
            if self.backend.with_nms:
                size = tuple(images[chunk[0]].shape[-2:])
                chunk = [i for i in chunk if tuple(images[i].shape[-2:]) == size]
            start += len(chunk)
            sizes = [tuple(int(s) for s in images[i].shape[-2:]) for i in chunk]
            batch = batch_images([images[i].to(self.backend.device) for i in chunk], self.pad_value)
            outputs = self.backend(batch)
            for i, r in zip(chunk, outputs_to_instances(outputs, sizes, **self.rules)):
                results[i] = r
        return results

    def predict_inputs(self, inputs: Sequence[dict]) -> list[Instances]:
        """Detectron2-style inputs (``image`` (3, h, w), optional ``height``/``width`` of the
        original) -> ``Instances`` rescaled to ``height x width``, as the eager model returns."""
        raw = self.run_tensors([d["image"] for d in inputs])
        out = []
        for d, r in zip(inputs, raw):
            h, w = r.image_size
            out.append(detector_postprocess(r.to("cpu"), d.get("height", h), d.get("width", w)))
        return out

    def __call__(self, images: Sequence[np.ndarray] | np.ndarray) -> list[Instances] | Instances:
        """RGB ``(H, W, 3)`` uint8 array(s) -> ``Instances`` in original pixels (one or a list)."""
        single = isinstance(images, np.ndarray) and images.ndim == 3
        batch = [images] if single else list(images)
        inputs = [
            {"image": self.resize(im), "height": im.shape[0], "width": im.shape[1]} for im in batch
        ]
        out = self.predict_inputs(inputs)
        return out[0] if single else out
