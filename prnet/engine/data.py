"""Deterministic resumption of the training data stream."""

from __future__ import annotations

import itertools
import logging

from torch.utils.data import Sampler

__all__ = ["SkipSampler", "fast_forward_train_loader"]

logger = logging.getLogger(__name__)


class SkipSampler(Sampler):
    """Yield ``sampler``'s indices after dropping the first ``skip`` of them.

    Detectron2's ``TrainingSampler`` is an infinite, seeded stream per rank; skipping the samples
    already trained on gives, after a resume, exactly the order an uninterrupted run sees.
    """

    def __init__(self, sampler: Sampler, skip: int):
        self.sampler, self.skip = sampler, int(skip)

    def __iter__(self):
        return itertools.islice(iter(self.sampler), self.skip, None)


def fast_forward_train_loader(loader, num_iters: int, batch_size_per_rank: int) -> bool:
    """Make a not-yet-iterated Detectron2 train loader start at iteration ``num_iters``.

    Works on the loaders of ``build_detection_train_loader`` / ``build_yolo_train_loader``
    without aspect-ratio grouping (a ``DataLoader`` over ``ToIterableDataset``): the sampler skips
    ``num_iters * batch_size_per_rank`` indices, and a ``YOLODatasetMapper`` (``loader.mapper``)
    advances its per-sample random stream by as many samples, so augmentations match too (exact
    with ``num_workers=0``; worker processes draw their own seeds). Returns False (and logs) when
    the loader has another structure; training then simply restarts the data stream.
    """
    skip = int(num_iters) * int(batch_size_per_rank)
    if skip <= 0:
        return True
    dataset = getattr(loader, "dataset", None)
    if dataset is None or not hasattr(dataset, "sampler"):
        logger.warning("Cannot fast-forward this train loader; the data order restarts.")
        return False
    dataset.sampler = SkipSampler(dataset.sampler, skip)
    mapper = getattr(loader, "mapper", None)
    if hasattr(mapper, "skip_samples"):  # YOLODatasetMapper: sample n's randomness from n
        mapper.skip_samples(skip)
    logger.info(f"Train loader fast-forwarded by {skip} samples ({num_iters} iterations).")
    return True
