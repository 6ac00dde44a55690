"""Inputs and outputs of prediction: image files, folders and videos in (images decoded exactly as
for training, :func:`prnet.data.image_io.read_image_rgb`); COCO results and pictures with boxes
out (Detectron2's ``Visualizer`` and ``instances_to_coco_json``)."""
from __future__ import annotations

import os
from typing import Iterator, NamedTuple, Sequence

import cv2
import numpy as np
from detectron2.data import MetadataCatalog
from detectron2.evaluation.coco_evaluation import instances_to_coco_json
from detectron2.structures import Instances
from detectron2.utils.visualizer import Visualizer

from prnet.data.image_io import read_image_rgb

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "Frame",
    "is_image",
    "count_frames",
    "draw_instances",
    "expand_sources",
    "instances_to_results",
    "iter_sources",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm")


class Frame(NamedTuple):
    """One image to predict: RGB ``(H, W, 3)`` uint8, where it came from and its results id."""

    image: np.ndarray
    source: str  # file path
    index: int  # frame index in a video, 0 for images
    image_id: int | str  # file stem for images, "<stem>_<index:06d>" for video frames


def _kind(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return "other"


def is_image(path: str) -> bool:
    """Whether ``path`` has an image suffix (:data:`IMAGE_EXTENSIONS`)."""
    return _kind(path) == "image"


def expand_sources(paths: Sequence[str]) -> list[str]:
    """Files and folders (their images and videos, sorted, not recursive) -> file paths."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            names = sorted(os.listdir(p))
            files += [os.path.join(p, n) for n in names if _kind(n) != "other"]
        elif os.path.isfile(p):
            if _kind(p) == "other":
                raise ValueError(f"{p}: not an image ({IMAGE_EXTENSIONS}) or video {VIDEO_EXTENSIONS}")
            files.append(p)
        else:
            raise FileNotFoundError(p)
    return files


def count_frames(files: Sequence[str]) -> int:
    """Images count 1, videos their frame count (as the container reports it)."""
    total = 0
    for f in files:
        if _kind(f) == "video":
            cap = cv2.VideoCapture(f)
            total += max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
            cap.release()
        else:
            total += 1
    return total


def iter_sources(paths: Sequence[str], video_stride: int = 1) -> Iterator[Frame]:
    """Every image, and every ``video_stride``-th frame of every video, as RGB :class:`Frame`."""
    for f in expand_sources(paths):
        stem = os.path.splitext(os.path.basename(f))[0]
        if _kind(f) == "image":
            yield Frame(read_image_rgb(f), f, 0, stem)
            continue
        cap = cv2.VideoCapture(f)
        if not cap.isOpened():
            raise ValueError(f"{f}: could not open the video")
        index = 0
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                if index % video_stride == 0:
                    yield Frame(np.ascontiguousarray(bgr[:, :, ::-1]), f, index, f"{stem}_{index:06d}")
                index += 1
        finally:
            cap.release()


def instances_to_results(
    instances: Instances, image_id, category_ids: dict[int, int] | None = None
) -> list[dict]:
    """COCO results (``bbox`` XYWH) of one image; ``category_ids`` maps contiguous class ids to
    dataset ids (e.g. inverted ``thing_dataset_id_to_contiguous_id``), default: contiguous."""
    results = instances_to_coco_json(instances.to("cpu"), image_id)
    if category_ids is not None:
        for r in results:
            r["category_id"] = category_ids[r["category_id"]]
    return results


def draw_instances(
    image: np.ndarray,
    instances: Instances,
    class_names: Sequence[str] | None = None,
    score_thresh: float = 0.25,
) -> np.ndarray:
    """RGB image with the detections above ``score_thresh`` drawn (Detectron2 ``Visualizer``)."""
    metadata = MetadataCatalog.get("__prnet_predict__")
    if class_names is not None and list(metadata.get("thing_classes", [])) != list(class_names):
        MetadataCatalog.remove("__prnet_predict__")
        metadata = MetadataCatalog.get("__prnet_predict__")
        metadata.thing_classes = list(class_names)
    shown = instances[instances.scores > score_thresh].to("cpu")
    vis = Visualizer(image, metadata)
    return vis.draw_instance_predictions(shown).get_image()
