"""``prnet.Detector``: the one object a Python user needs to run a trained or exported PRNet.

    from prnet import Detector
    det = Detector("model_final.pth")                  # or "prnet_s.onnx", ".ts", ".xml", ".engine"
    instances = det.predict("frame.jpg")               # Detectron2 Instances, original pixels
    tiles = det.predict(big_rgb_array, slice=dict(tile_size=640, overlap=0.2))
    boxes = det.predict(["a.jpg", "b.jpg"], as_dict=True)  # plain dicts: boxes, scores, classes
    metrics = det.evaluate("visdrone2019_val", preset="visdrone")

It is a thin layer over :class:`~prnet.inference.Predictor` (full images),
:class:`~prnet.inference.SlicedPredictor` (tiles), :func:`~prnet.export.load_exported` and
:class:`~prnet.export.EagerBackend`; the class names, test image size and thresholds come from the
checkpoint or the exported file (:mod:`prnet.checkpoint.metadata`).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from detectron2.structures import Instances

from prnet.data.image_io import read_image_rgb
from prnet.export import EagerBackend, load_exported
from prnet.export.metadata import FORMAT_SUFFIX
from prnet.modeling.build import build_model

from .evaluate import evaluate_predictor
from .predictor import MODEL_SIZE, Predictor
from .slicing import SlicedPredictor

__all__ = ["Detector", "instances_to_dict"]

_EXPORTED = tuple(FORMAT_SUFFIX.values())


def instances_to_dict(instances: Instances, class_names: Sequence[str] | None = None) -> dict:
    """``Instances`` -> plain numpy: ``boxes (N, 4)`` float32 XYXY pixels, ``scores (N,)``
    float32, ``classes (N,)`` int64 (contiguous 0..K-1), ``class_names`` (N strings: the name,
    or the id as text when the model has no names), ``image_size`` ``(height, width)``."""
    inst = instances.to("cpu")
    classes = inst.pred_classes.numpy().astype(np.int64)
    names = [class_names[c] if class_names and 0 <= c < len(class_names) else str(c) for c in classes]
    return {
        "boxes": inst.pred_boxes.tensor.numpy().astype(np.float32),
        "scores": inst.scores.numpy().astype(np.float32),
        "classes": classes,
        "class_names": names,
        "image_size": tuple(int(s) for s in inst.image_size),
    }


class Detector:
    """A PRNet model ready to predict and evaluate.

    Args:
        model: a prnet checkpoint (``.pth``: training output or converted Ultralytics weights) or
            an exported file (``.onnx``, ``.ts``, ``.xml`` OpenVINO IR, ``.engine`` TensorRT).
        config: LazyConfig file for checkpoints that do not carry their config (older ones).
        device: ``"cpu"``, ``"cuda"``, ... (TensorRT always runs on CUDA).
        image_size: long side images are resized to; ``None``: the model's test size (from its
            metadata), else 640.
        batch_size: images (tiles) per model call.
        overrides: ``key=value`` config overrides (``model.*`` only without ``config``).
        score_thresh, max_det: detection rules (raw graphs; default: the model's).
        fuse: eager checkpoints run with BatchNorm folded into the convs (same detections,
            faster).
    """

    def __init__(
        self,
        model: str | os.PathLike,
        config: str | None = None,
        *,
        device: str = "cpu",
        image_size: int | None = None,
        batch_size: int = 8,
        overrides: Sequence[str] = (),
        score_thresh: float | None = None,
        max_det: int | None = None,
        fuse: bool = True,
    ):
        path = os.fspath(model)
        if path.endswith(_EXPORTED):
            backend = load_exported(path, device=None if device == "cpu" else device)
        else:
            backend = EagerBackend(build_model(config, path, overrides, device), fuse=fuse)
        self.path = path
        self.predictor = Predictor(
            backend,
            MODEL_SIZE if image_size is None else image_size,
            batch_size,
            score_thresh=score_thresh,
            max_det=max_det,
        )

    @property
    def class_names(self) -> list[str] | None:
        """The model's class names (``None`` when neither checkpoint nor file records them)."""
        return self.predictor.class_names

    @property
    def num_classes(self) -> int:
        return self.predictor.num_classes

    @property
    def image_size(self) -> int | None:
        return self.predictor.image_size

    def _sliced(self, slice: bool | Mapping) -> SlicedPredictor:
        options = dict(slice) if isinstance(slice, Mapping) else {}
        options.setdefault("tile_size", self.predictor.image_size or 640)  # native resolution
        options.setdefault("tile_batch", self.predictor.batch_size)
        return SlicedPredictor(self.predictor, **options)

    @staticmethod
    def _as_rgb(image, bgr: bool) -> np.ndarray:
        if isinstance(image, (str, os.PathLike)):
            return read_image_rgb(image)  # files are decoded to RGB whatever ``bgr`` says
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise ValueError(
                f"expected an (H, W, 3) uint8 image array, got shape {array.shape} {array.dtype}"
            )
        return np.ascontiguousarray(array[:, :, ::-1]) if bgr else array

    def predict(
        self,
        images,
        *,
        slice: bool | Mapping | None = None,
        bgr: bool = False,
        as_dict: bool = False,
    ):
        """Detect objects in one image or a list of them.

        Args:
            images: a path, an ``(H, W, 3)`` uint8 array (a PIL image works too), or a list of
                them. Arrays are **RGB** unless ``bgr=True`` (OpenCV's ``cv2.imread`` gives
                BGR); paths are decoded to RGB with EXIF orientation applied.
            slice: ``None``/``False``: whole images; ``True``: tiles of the model's image size
                with 20% overlap plus the whole image, merged; a dict: options of
                :class:`~prnet.inference.SlicedPredictor` (``tile_size``, ``overlap``,
                ``full_image``, ``merge``, ...).
            as_dict: return :func:`instances_to_dict` dicts instead of ``Instances``.

        Returns ``Instances`` (``pred_boxes`` XYXY in original pixels, ``scores``,
        ``pred_classes``) or dicts, one per image: a list for a list input.
        """
        single = not isinstance(images, (list, tuple))
        arrays = [self._as_rgb(im, bgr) for im in ([images] if single else images)]
        if slice:
            sliced = self._sliced(slice)
            outputs = [sliced(a) for a in arrays]
        else:
            outputs = self.predictor(arrays) if arrays else []
        if as_dict:
            outputs = [self.to_dict(o) for o in outputs]
        return outputs[0] if single else outputs

    __call__ = predict

    def to_dict(self, instances: Instances) -> dict:
        """Plain-numpy form of one image's detections, labelled with this model's class names."""
        return instances_to_dict(instances, self.class_names)

    def evaluate(
        self,
        dataset_name: str,
        preset: str = "coco",
        *,
        slice: bool | Mapping | None = None,
        output_dir: str | None = None,
        limit: int | None = None,
        progress: bool = True,
    ) -> dict:
        """Score a registered dataset with an evaluator preset (``coco``, ``aitod``,
        ``visdrone``, ``uavdt``); returns ``{"bbox": {"AP", "AP50", ...}}``."""
        predictor = self._sliced(slice) if slice else self.predictor
        return evaluate_predictor(
            predictor, dataset_name, preset, output_dir=output_dir, limit=limit, progress=progress
        )

    def __repr__(self) -> str:
        return (
            f"Detector({self.path!r}, backend={self.predictor.backend.name}, "
            f"classes={self.num_classes}, image_size={self.image_size})"
        )
