"""Inputs and outputs of prediction: image files, folders and videos in (images decoded exactly as
for training, :func:`prnet.data.image_io.read_image_rgb`); COCO results and pictures with boxes
out (Detectron2's ``Visualizer`` and ``instances_to_coco_json``).

Image ids (:func:`image_ids`) are unique within one run and do not depend on the input order: the
file stem (``a`` for ``a.jpg``); the file name (``a.jpg``, ``a.png``) for files whose stems
clash (including a video whose frame ids ``<id>_<frame:06d>`` would equal another file's id); the
path relative to the inputs' common folder (``day1/a.jpg``) for names that still clash (the same
name in two folders). Unreadable files are reported through ``on_unreadable`` and skipped, so one
truncated image does not stop a folder, nor is it predicted half-decoded.
"""
from __future__ import annotations

import logging
import os
import re
from collections import Counter
from typing import Callable, Iterator, NamedTuple, Sequence

import cv2
import numpy as np
import torch
from detectron2.data import MetadataCatalog
from detectron2.evaluation.coco_evaluation import instances_to_coco_json
from detectron2.structures import Boxes, BoxMode, Instances
from detectron2.utils.visualizer import Visualizer

from prnet.data.image_io import ImageReadError, read_image_rgb

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "Frame",
    "is_image",
    "count_frames",
    "draw_instances",
    "expand_sources",
    "image_ids",
    "instances_to_results",
    "iter_sources",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm")

logger = logging.getLogger("prnet")


class Frame(NamedTuple):
    """One image to predict: RGB ``(H, W, 3)`` uint8, where it came from and its results id."""

    image: np.ndarray
    source: str  # file path
    index: int  # frame index in a video, 0 for images
    image_id: int | str  # image_ids()[source] for images, "<that>_<index:06d>" for video frames
    fps: float | None = None  # a video's frame rate, as its container reports it

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
    """Files and folders (their images and videos, sorted, not recursive) -> file paths, each
    once (a file named twice, or also inside a named folder, would get two results)."""
    files, seen = [], set()
    for p in paths:
        if os.path.isdir(p):
            names = sorted(os.listdir(p))
            found = [os.path.join(p, n) for n in names if _kind(n) != "other"]
        elif os.path.isfile(p):
            if _kind(p) == "other":
                kinds = f"an image {IMAGE_EXTENSIONS} or a video {VIDEO_EXTENSIONS}"
                raise ValueError(f"{p}: not {kinds}")
            found = [p]
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
        for f in found:
            key = os.path.realpath(f)
            if key not in seen:
                seen.add(key)
                files.append(f)
    return files


def image_ids(files: Sequence[str]) -> dict[str, str]:
    """Unique results id of each file (module doc): stem, else file name, else relative path."""
    root = os.path.commonpath([os.path.abspath(f) for f in files]) if len(files) > 1 else ""
    names = [
        lambda f: os.path.splitext(os.path.basename(f))[0],
        os.path.basename,
        lambda f: os.path.relpath(os.path.abspath(f), root).replace(os.sep, "/"),
    ]
    level = dict.fromkeys(files, 0)
    while True:
        ids = {f: names[level[f]](f) for f in files}
        count = Counter(ids.values())
        clash = {f for f in files if count[ids[f]] > 1}
        for v in files:  # a video's frames are "<id>_<frame:06d>": no other file may be one
            if _kind(v) == "video":
                frame_id = re.compile(re.escape(ids[v]) + r"_\d{6,}")
                hits = {f for f in files if frame_id.fullmatch(ids[f])}
                if hits:
                    clash |= hits | {v}
        bump = {f for f in clash if level[f] < len(names) - 1}
        if not bump:  # relative paths of distinct files are distinct
            return ids
        for f in bump:
            level[f] += 1


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


def iter_sources(
    paths: Sequence[str],
    video_stride: int = 1,
    on_unreadable: Callable[[str, str], None] | None = None,
) -> Iterator[Frame]:
    """Every image, and every ``video_stride``-th frame of every video, as RGB :class:`Frame`.

    A file that cannot be decoded (truncated or corrupt image, video OpenCV cannot open or that
    gives no frame) raises :class:`~prnet.data.image_io.ImageReadError`, or, with
    ``on_unreadable``, is passed to it as ``(path, reason)`` and skipped. A video that ends before
    the frame count its container reports is predicted up to there, with a warning.
    """
    files = expand_sources(paths)
    ids = image_ids(files)

    def unreadable(path: str, reason: str):
        if on_unreadable is None:
            raise ImageReadError(path, reason)
        on_unreadable(path, reason)

    for f in files:
        if _kind(f) == "image":
            try:
                image = read_image_rgb(f)
            except ImageReadError as e:
                unreadable(f, e.reason)
                continue
            yield Frame(image, f, 0, ids[f])
            continue
        cap = cv2.VideoCapture(f)
        if not cap.isOpened():
            unreadable(f, "cannot open the video (OpenCV found no readable stream)")
            continue
        expected = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = cap.get(cv2.CAP_PROP_FPS) or None
        index = 0
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                if index % video_stride == 0:
                    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
                    yield Frame(rgb, f, index, f"{ids[f]}_{index:06d}", fps)
                index += 1
        finally:
            cap.release()
        if index == 0:
            unreadable(f, "no frame could be decoded (truncated or corrupt video?)")
        elif index < expected:
            logger.warning(f"{f}: decoded {index} of {expected} frames (truncated video?)")


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
    max_size: int | None = 3072,
    style: str = "labels",
) -> np.ndarray:
    """RGB image with the detections above ``score_thresh`` drawn: ``style="labels"`` with
    Detectron2's ``Visualizer`` (filled label boxes with name and score), ``"thin"`` as 1-px
    boxes in class colours with the name in thin text (nothing covers a 10-px object).

    Images whose long side exceeds ``max_size`` are drawn shrunk to it (boxes scaled alike):
    the ``Visualizer`` renders through matplotlib at about 120 bytes per pixel, 13 GB for a
    10000 px square frame, 1.1 GB at 3072 px. ``None`` or ``<= 0``: full size.
    """
    if style not in ("labels", "thin"):
        raise ValueError(f"style must be 'labels' or 'thin', got {style!r}")
    metadata = MetadataCatalog.get("__prnet_predict__")
    # a call without names must not draw the names of an earlier call
    if list(metadata.get("thing_classes", [])) != list(class_names or []):
        MetadataCatalog.remove("__prnet_predict__")
        metadata = MetadataCatalog.get("__prnet_predict__")
        if class_names:
            metadata.thing_classes = list(class_names)
    shown = instances[instances.scores > score_thresh].to("cpu")
    h, w = image.shape[:2]
    if max_size and max_size > 0 and max(h, w) > max_size:
        ratio = max_size / max(h, w)
        new_h, new_w = max(1, round(h * ratio)), max(1, round(w * ratio))
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        boxes = shown.pred_boxes.tensor
        scale = torch.tensor([new_w / w, new_h / h] * 2, dtype=boxes.dtype)
        fields = dict(shown.get_fields(), pred_boxes=Boxes(boxes * scale))
        shown = Instances((new_h, new_w), **fields)
    if style == "thin":
        from prnet.evaluation.plots import class_colours, draw_boxes

        classes = shown.pred_classes.tolist()
        names = list(class_names) if class_names else [str(k) for k in range(max(classes, default=0) + 1)]
        boxes = BoxMode.convert(shown.pred_boxes.tensor.numpy(), BoxMode.XYXY_ABS, BoxMode.XYWH_ABS)
        return draw_boxes(image.copy(), boxes, classes, class_colours(len(names)), names, True, 1.0)
    vis = Visualizer(image, metadata)
    return vis.draw_instance_predictions(shown).get_image()
