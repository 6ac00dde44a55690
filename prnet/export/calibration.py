"""Calibration images for INT8 quantisation (TensorRT, OpenVINO/NNCF): drawn from a registered
dataset and prepared exactly as the test mapper prepares evaluation images."""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch
from detectron2.data import DatasetCatalog

from prnet.data.mapper import YOLODatasetMapper

__all__ = ["calibration_batches"]


def calibration_batches(
    dataset_name: str,
    num_images: int = 64,
    image_size: int = 640,
    batch_size: int = 8,
    pad_value: Sequence[float] = (0.0, 0.0, 0.0),
    seed: int = 0,
) -> Iterator[torch.Tensor]:
    """INT8 calibration input: ``(batch_size, 3, image_size, image_size)`` float32 batches.

    ``num_images`` images drawn without replacement (seeded) from the registered dataset, resized
    so the long side is ``image_size`` (as ``YOLODatasetMapper(is_train=False)``), padded on the
    bottom/right with ``pad_value`` (the model's ``pixel_mean``: zero after normalisation). The
    last batch may be smaller.
    """
    records = DatasetCatalog.get(dataset_name)
    if not records:
        raise ValueError(f"dataset {dataset_name!r} is empty")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(records))[: min(num_images, len(records))]
    mapper = YOLODatasetMapper(is_train=False, image_size=image_size)
    fill = torch.as_tensor(pad_value, dtype=torch.float32).view(3, 1, 1)
    batch = []
    for i in order:
        image = mapper(records[int(i)])["image"].float()
        canvas = fill.expand(3, image_size, image_size).clone()
        canvas[:, : image.shape[1], : image.shape[2]] = image
        batch.append(canvas)
        if len(batch) == batch_size:
            yield torch.stack(batch)
            batch = []
    if batch:
        yield torch.stack(batch)
