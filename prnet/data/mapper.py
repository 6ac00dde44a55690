"""Detectron2 dataset mapper with the YOLO recipe (docs/recipe.md, data) and its train loader.

Output (both modes): ``{"image": uint8 (3, H, W) RGB, "height", "width", "image_id", "file_name",
"ignore_regions": float32 (K, 4) XYXY_ABS in the frame of "image", "mosaic": bool}`` plus, in
training, ``"instances": Instances(gt_boxes, gt_classes int64)``.

* Training: mosaic (probability ``mosaic_prob``, while switched on) or letterbox to
  ``image_size x image_size``, random scale/translate, HSV jitter, horizontal flip. With
  ``crop_size`` set, every image (each mosaic tile too) is first cut to a ``crop_size`` square
  at native scale (:func:`prnet.data.augment.native_crop`), so a large frame is not shrunk whole:
  objects are scaled by ``image_size / crop_size`` (1 when equal) instead of ``image_size / long
  side``. The output is
  exactly ``image_size`` square, and "height"/"width" are that size (the frame of the targets).
  Crowd annotations (``iscrowd=1``) are dropped; boxes follow the minimum box rule of
  :mod:`prnet.data.augment`.
* Both: boxes partly outside the image are clipped, degenerate ones dropped, by the rule of the
  pre-training check (:func:`prnet.data.check.classify_boxes`) and counted in ``box_counts``;
  a box with NaN/Inf coordinates is a ``ValueError`` naming the file.
* Inference: resize so the long side is ``image_size`` (no padding: the model pads), and keep the
  original "height"/"width" so the model rescales predictions back.

Mosaic is switched through shared memory (:meth:`YOLODatasetMapper.set_mosaic`), so the trainer
can switch it off for the last epochs while DataLoader workers (fork or spawn) hold copies of the
mapper. Samples already prefetched by the workers keep their mosaic.
"""

from __future__ import annotations

import copy
from collections import Counter
import os
import weakref
from multiprocessing import shared_memory
from typing import Sequence

import numpy as np
import torch
from detectron2.data import build_detection_train_loader
from detectron2.data import detection_utils as utils
from detectron2.data.common import DatasetFromList
from detectron2.structures import Boxes, BoxMode, Instances
from detectron2.utils import comm

from prnet.data import augment as A
from prnet.data.check import CLIPPED, NON_FINITE, STATUS_COUNT, classify_boxes
from prnet.data.image_io import read_image_rgb

__all__ = ["YOLODatasetMapper", "build_yolo_train_loader"]


class _SharedFlag:
    """A bool in named shared memory, seen by every process holding a copy.

    Forked workers inherit the mapping; spawned workers and (cloud)pickled or deep-copied copies
    re-attach by name. ``multiprocessing.Value`` cannot do the latter: Detectron2's ``MapDataset``
    cloudpickles the mapper, and ctypes shared values only pickle through multiprocessing's own
    pickler. The creating process unlinks the memory when the flag is garbage-collected or at exit.
    """

    def __init__(self, value: bool = True):
        self._shm = shared_memory.SharedMemory(create=True, size=1)
        self._shm.buf[0] = int(bool(value))
        weakref.finalize(self, _release_shared, self._shm, os.getpid())

    @classmethod
    def _attach(cls, name: str) -> "_SharedFlag":
        flag = cls.__new__(cls)
        flag._shm = shared_memory.SharedMemory(name=name)
        return flag

    def __reduce__(self):
        return _SharedFlag._attach, (self._shm.name,)

    def get(self) -> bool:
        return bool(self._shm.buf[0])

    def set(self, value: bool) -> None:
        self._shm.buf[0] = int(bool(value))


def _release_shared(shm: shared_memory.SharedMemory, owner_pid: int) -> None:
    shm.close()
    if os.getpid() == owner_pid:  # forked copies must not unlink the owner's memory
        shm.unlink()


class YOLODatasetMapper:
    """Callable mapping a Detectron2 dataset dict to the detector's input dict (see module doc).

    Args:
        is_train: training augmentation and targets, or inference resize.
        image_size: training output side / inference long side, in pixels.
        dataset: list of dataset dicts (or a map-style dataset of them) to draw the three other
            mosaic images from; required when training with ``mosaic_prob > 0``.
        mosaic_prob, scale, translate, hsv (gains h, s, v), flip_prob: the recipe's knobs.
        min_box_size, min_visible: the minimum box rule (:func:`prnet.data.augment.filter_boxes`).
        crop_size: side of the native-resolution crop taken of each training image before mosaic
            or letterbox; ``None``: the whole frame is resized (the recipe's default).
        crop_object_prob: probability that a crop is placed to hold a randomly chosen box
            (otherwise uniform over the image), see :func:`prnet.data.augment.crop_window`.
        seed: randomness of sample ``n`` of a process comes from
            ``(seed, rank, worker id, worker seed, n)``; the same seed gives the same samples with
            ``num_workers=0`` (with workers, also seed torch in the main process). ``None``: random.
    """

    def __init__(
        self,
        is_train: bool,
        image_size: int = 640,
        dataset: Sequence[dict] | torch.utils.data.Dataset | None = None,
        *,
        mosaic_prob: float = 1.0,
        scale: float = 0.5,
        translate: float = 0.1,
        hsv: tuple[float, float, float] = (0.015, 0.7, 0.4),
        flip_prob: float = 0.5,
        min_box_size: float = A.MIN_BOX_SIZE,
        min_visible: float = A.MIN_VISIBLE,
        pad_value: int = A.PAD_VALUE,
        crop_size: int | None = None,
        crop_object_prob: float = 0.5,
        seed: int | None = None,
    ):
        if image_size <= 0:
            raise ValueError(f"image_size must be positive, got {image_size}")
        if crop_size is not None and crop_size <= 0:
            raise ValueError(f"crop_size must be positive or None, got {crop_size}")
        probs = (("mosaic_prob", mosaic_prob), ("flip_prob", flip_prob))
        for name, p in (*probs, ("crop_object_prob", crop_object_prob)):
            if not 0 <= p <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        if len(hsv) != 3:
            raise ValueError(f"hsv must be the three gains (h, s, v), got {hsv}")
        self.is_train = is_train
        self.image_size = int(image_size)
        self.mosaic_prob = float(mosaic_prob)
        self.scale, self.translate = float(scale), float(translate)
        self.hsv = tuple(float(g) for g in hsv)
        self.flip_prob = float(flip_prob)
        self.min_box_size, self.min_visible = float(min_box_size), float(min_visible)
        self.pad_value = int(pad_value)
        self.crop_size = None if crop_size is None else int(crop_size)
        self.crop_object_prob = float(crop_object_prob)
        self.seed = int(np.random.SeedSequence().entropy if seed is None else seed)
        self.dataset = None
        if dataset is not None:
            self.set_dataset(dataset)
        # shared memory: DataLoader workers read the flag the main process writes
        self._mosaic = _SharedFlag(True)
        self._counter = 0
        #: boxes clipped/dropped while reading, by the pre-training check's row names
        self.box_counts = Counter()

    def set_dataset(self, dataset: Sequence[dict] | torch.utils.data.Dataset) -> None:
        """Dataset to draw mosaic partners from (a list is serialised once, as Detectron2 does)."""
        if isinstance(dataset, list):
            dataset = DatasetFromList(dataset, copy=True, serialize=True)
        if len(dataset) == 0:
            raise ValueError("the mosaic dataset is empty")
        self.dataset = dataset

    def set_mosaic(self, enabled: bool) -> None:
        """Switch mosaic on/off in this process and in every DataLoader worker."""
        self._mosaic.set(enabled)

    @property
    def mosaic_enabled(self) -> bool:
        return self._mosaic.get()

    def skip_samples(self, count: int) -> None:
        """Advance the per-sample random stream by ``count`` samples, as if they had been drawn:
        a resumed run then augments sample ``n`` as an uninterrupted run would (exact with
        ``num_workers=0``; worker processes draw their own seeds)."""
        self._counter += int(count)

    def _next_rng(self) -> np.random.Generator:
        info = torch.utils.data.get_worker_info()
        worker = (info.id + 1, info.seed) if info is not None else (0, 0)
        entropy = [self.seed, comm.get_rank(), *worker, self._counter]
        self._counter += 1
        return np.random.default_rng(np.random.SeedSequence(entropy))

    def _read(self, record: dict) -> A.Sample:
        # (H, W, 3) uint8 RGB for grayscale/RGBA/16-bit files; ImageReadError names a bad file
        image = read_image_rgb(record["file_name"])
        utils.check_image_size(record, image)
        annos = record.get("annotations", [])
        crowd = sum(1 for a in annos if a.get("iscrowd", 0))
        annos = [a for a in annos if not a.get("iscrowd", 0)]
        boxes = np.array(
            [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in annos],
            dtype=np.float32,
        )
        classes = np.array([a["category_id"] for a in annos], dtype=np.int64)
        # the pre-training check's rule: clip boxes sticking out, drop degenerate ones
        h, w = image.shape[:2]
        boxes, status = classify_boxes(boxes, w, h)
        self._count(status, crowd)
        if (status == NON_FINITE).any():
            j = int(np.flatnonzero(status == NON_FINITE)[0])
            raise ValueError(
                f"{record['file_name']}: annotation {j}: expected finite bbox coordinates, "
                f"got {annos[j]['bbox']}"
            )
        keep = status <= CLIPPED
        ignore = A.clip_boxes(record.get("ignore_regions"), w, h)
        ignore = ignore[(ignore[:, 2] > ignore[:, 0]) & (ignore[:, 3] > ignore[:, 1])]
        return A.Sample.create(image, boxes[keep], classes[keep], ignore)

    def _count(self, status: np.ndarray, crowd: int) -> None:
        """Runtime counts under the report's names (``prnet.data.check``), per process: with
        DataLoader workers each worker counts its own reads (mosaic partners included)."""
        for code, key in STATUS_COUNT.items():
            self.box_counts[key] += int((status == code).sum())
        self.box_counts["crowd_box"] += crowd

    def __call__(self, dataset_dict: dict) -> dict:
        record = copy.deepcopy(dataset_dict)
        sample = self._read(record)
        if self.is_train:
            sample, used_mosaic = self._augment(sample)
            height = width = self.image_size
        else:
            image, matrix = A.resize_long_side(sample.image, self.image_size)
            ignore = A.transform_boxes(sample.ignore, matrix)
            sample, used_mosaic = sample._replace(image=image, ignore=ignore), False
            height, width = record["height"], record["width"]
        out = {
            "image": torch.as_tensor(np.ascontiguousarray(sample.image.transpose(2, 0, 1))),
            "height": height,
            "width": width,
            "image_id": record.get("image_id"),
            "file_name": record["file_name"],
            "ignore_regions": torch.as_tensor(sample.ignore, dtype=torch.float32).reshape(-1, 4),
            "mosaic": used_mosaic,
        }
        if self.is_train:
            instances = Instances((height, width))
            instances.gt_boxes = Boxes(torch.as_tensor(sample.boxes, dtype=torch.float32))
            instances.gt_classes = torch.as_tensor(sample.classes, dtype=torch.int64)
            out["instances"] = instances
        return out

    def _augment(self, sample: A.Sample) -> tuple[A.Sample, bool]:
        rng, size = self._next_rng(), self.image_size
        rule = dict(min_size=self.min_box_size, min_visible=self.min_visible)
        use_mosaic = self.mosaic_enabled and rng.random() < self.mosaic_prob
        sample = self._crop(sample, rng, rule)
        if use_mosaic:
            if self.dataset is None:
                raise ValueError(
                    "mosaic needs the dataset: pass dataset= (or call set_dataset), "
                    "or set mosaic_prob=0"
                )
            others = [
                self._crop(self._read(self.dataset[int(i)]), rng, rule)
                for i in rng.integers(len(self.dataset), size=3)
            ]
            sample = A.mosaic4([sample, *others], size, rng, self.pad_value, **rule)
        else:
            sample, _ = A.letterbox(sample, size, self.pad_value, **rule)
        sample, _ = A.random_affine(
            sample, rng, self.scale, self.translate, size, self.pad_value, **rule
        )
        if any(self.hsv):
            sample = sample._replace(image=A.hsv_jitter(sample.image, rng, *self.hsv))
        if rng.random() < self.flip_prob:
            sample = A.hflip(sample)
        return sample, use_mosaic

    def _crop(self, sample: A.Sample, rng: np.random.Generator, rule: dict) -> A.Sample:
        """The native-resolution crop of one image (unchanged when ``crop_size`` is None)."""
        if self.crop_size is None:
            return sample
        sample, _ = A.native_crop(
            sample, self.crop_size, rng, self.crop_object_prob, self.pad_value, **rule
        )
        return sample


def build_yolo_train_loader(
    dataset: list[dict] | torch.utils.data.Dataset,
    *,
    mapper: YOLODatasetMapper,
    total_batch_size: int,
    num_workers: int = 0,
    sampler: torch.utils.data.Sampler | None = None,
) -> torch.utils.data.DataLoader:
    """Detectron2's ``build_detection_train_loader`` for a :class:`YOLODatasetMapper`.

    The dataset is serialised once and shared with the mapper (its mosaic partners); a mapper
    given its own dataset keeps it. Outputs are all square, so aspect-ratio grouping is off.
    The returned loader carries ``loader.mapper`` so a trainer hook can call
    ``loader.mapper.set_mosaic(False)`` for the last iterations.
    """
    if not isinstance(mapper, YOLODatasetMapper):
        raise TypeError(f"mapper must be a YOLODatasetMapper, got {type(mapper).__name__}")
    if isinstance(dataset, list):
        dataset = DatasetFromList(dataset, copy=True, serialize=True)
    if mapper.dataset is None:
        mapper.set_dataset(dataset)
    loader = build_detection_train_loader(
        dataset,
        mapper=mapper,
        sampler=sampler,
        total_batch_size=total_batch_size,
        aspect_ratio_grouping=False,
        num_workers=num_workers,
    )
    loader.mapper = mapper
    return loader
