"""Pre-training check of Detectron2 dataset dicts: count what the mapper would repair, fail on
what it cannot.

Any registered dataset can reach the trainer, not only the ones our converters wrote (those
already count their skips in a ``ConversionReport``). Without this check, the training mapper
clips and drops bad boxes silently and a wrong label space fails (or trains garbage) hours in.
:func:`check_dataset_dicts` scans the dicts once before training and returns a
:class:`DataCheckReport`: counted repairs (printed as a table) and hard errors, raised together as
one :class:`DataCheckError` that names the file and record index of each (up to 5 per reason).

:func:`classify_boxes` is the one rule deciding clip/drop; :class:`~prnet.data.YOLODatasetMapper`
applies the same function at load time, so its runtime counts match the report.
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Sequence

import numpy as np
import torch
from detectron2.data.common import DatasetFromList
from detectron2.structures import BoxMode
from detectron2.utils import comm
from PIL import Image, UnidentifiedImageError

from prnet.data.image_io import ImageReadError, read_image_rgb

__all__ = [
    "BOX_STATUS",
    "DATA_CHECK_MODES",
    "IMAGE_CHECKS",
    "DataCheckError",
    "DataCheckReport",
    "DatasetFileError",
    "check_dataset_dicts",
    "check_training_data",
    "classify_boxes",
    "train_dataset_dicts",
]

logger = logging.getLogger(__name__)

IMAGE_CHECKS = ("header", "full", None)
DATA_CHECK_MODES = ("header", "full", "off")  # train.data_check
#: status codes of :func:`classify_boxes`; the first two are kept, the others dropped
BOX_STATUS = ("ok", "clipped", "non_finite", "negative_size", "zero_area", "outside")
OK, CLIPPED, NON_FINITE, NEGATIVE_SIZE, ZERO_AREA, OUTSIDE = range(len(BOX_STATUS))
#: the report's row for each dropped/clipped status (also the keys of the mapper's counts)
STATUS_COUNT = {
    CLIPPED: "clipped_box",
    NON_FINITE: "non_finite_box",
    NEGATIVE_SIZE: "negative_size_box",
    ZERO_AREA: "zero_area_box",
    OUTSIDE: "outside_box",
}
_ROWS = (  # (key, what happens to it, description) in print order
    ("clipped_box", "kept, clipped", "box partly outside the image"),
    ("outside_box", "dropped", "box entirely outside the image"),
    ("zero_area_box", "dropped", "box with zero width or height"),
    ("negative_size_box", "dropped", "box with negative width or height"),
    ("non_finite_box", "error", "box with NaN/Inf coordinates"),
    ("crowd_box", "dropped", "crowd annotation (iscrowd=1)"),
    ("ignore_region", "kept, not trained", "ignore region"),
    ("image_without_objects", "kept, background", "image with no box left to train"),
)
_MAX_EXAMPLES = 5
_BOX_MODES = frozenset(BoxMode)  # also holds the plain ints, as BoxMode is an IntEnum


def classify_boxes(boxes, width: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """Clip ``(N, 4)`` XYXY_ABS boxes to ``[0, width] x [0, height]``; return ``(clipped
    float32 (N, 4), status int (N,))`` with codes of :data:`BOX_STATUS`.

    A box is kept (``status <= CLIPPED``) when its coordinates are finite, its width and height
    are positive, and something of it is left inside the image.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    status = np.full(len(boxes), OK, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        clipped = boxes.copy()
        clipped[:, 0::2] = clipped[:, 0::2].clip(0, width)
        clipped[:, 1::2] = clipped[:, 1::2].clip(0, height)
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        cw, ch = clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
        status[(clipped != boxes).any(axis=1)] = CLIPPED
        status[(cw <= 0) | (ch <= 0)] = OUTSIDE
        status[(w == 0) | (h == 0)] = ZERO_AREA
        status[(w < 0) | (h < 0)] = NEGATIVE_SIZE
        status[~np.isfinite(boxes).all(axis=1)] = NON_FINITE
    return clipped, status


class DataCheckError(ValueError):
    """Problems that would crash or silently corrupt training; ``.report`` holds all of them.

    The message lists the count of each reason with its first examples ("... and N more" for the
    rest), so one run shows everything to fix instead of the first problem only.
    """

    def __init__(self, report: "DataCheckReport", header: str | None = None):
        self.report = report
        lines = []
        for reason, n in sorted(report.errors.items()):
            shown = report.error_examples[reason]
            lines += [f"{n} x {reason}:", *(f"  {example}" for example in shown)]
            if n > len(shown):
                lines.append(f"  ... and {n - len(shown)} more")
        if header is None:
            header = f"training data check failed ({report.num_images} images scanned)"
        super().__init__(f"{header}:\n  " + "\n  ".join(lines))


class DatasetFileError(DataCheckError, KeyError):
    """A dataset file that cannot be loaded as it is (invalid JSON, bad COCO structure or records);
    ``.path`` names it, ``.report`` lists every problem.

    Raised while the dataset is loaded (``DatasetCatalog.get``, when the train loader is built), so
    before the training data check and before any DataLoader worker starts. It is also a
    ``KeyError`` only because Detectron2's loader raised one for an unknown ``category_id``: code
    catching that keeps working.
    """

    __str__ = BaseException.__str__  # KeyError's would print the message as a quoted repr

    def __init__(self, path: str | os.PathLike, report: "DataCheckReport"):
        self.path = os.fspath(path)
        super().__init__(
            report,
            f"{self.path}: cannot load this COCO json; fix the problems below, or re-create the "
            "file (datasets/prepare_*.py for the built-in datasets)",
        )


@dataclasses.dataclass
class DataCheckReport:
    """Counts of :func:`check_dataset_dicts`. ``counts`` keys are the rows of :meth:`table`;
    ``errors`` counts hard errors by reason, ``error_examples`` keeps the first few messages."""

    num_images: int = 0
    num_boxes: int = 0  # non-crowd annotations
    kept_boxes: int = 0
    counts: Counter = dataclasses.field(default_factory=Counter)
    errors: Counter = dataclasses.field(default_factory=Counter)
    error_examples: dict = dataclasses.field(default_factory=dict)
    images: str | None = "header"

    def add_error(self, reason: str, message: str) -> None:
        self.errors[reason] += 1
        examples = self.error_examples.setdefault(reason, [])
        if len(examples) < _MAX_EXAMPLES:
            examples.append(message)

    def merge(self, other: "DataCheckReport") -> "DataCheckReport":
        """Add ``other``'s counts (reports of dataset shards, e.g. one per rank)."""
        self.num_images += other.num_images
        self.num_boxes += other.num_boxes
        self.kept_boxes += other.kept_boxes
        self.counts.update(other.counts)
        for reason, n in other.errors.items():
            self.errors[reason] += n
            room = _MAX_EXAMPLES - len(self.error_examples.setdefault(reason, []))
            self.error_examples[reason] += other.error_examples.get(reason, [])[: max(room, 0)]
        return self

    def table(self) -> str:
        """The summary printed before training: one row per counted case and per error."""
        from tabulate import tabulate

        rows = [("images", "", self.num_images, f"image check: {self.images or 'none'}"),
                ("boxes (non-crowd)", "", self.num_boxes, f"{self.kept_boxes} trained")]
        rows += [(key, action, self.counts.get(key, 0), what) for key, action, what in _ROWS]
        rows += [(reason, "error", n, "see the error message") for reason, n in
                 sorted(self.errors.items()) if reason != "non_finite_box"]
        return tabulate(rows, headers=["case", "action", "count", "what"], tablefmt="pipe")

    def raise_if_errors(self) -> None:
        if self.errors:
            raise DataCheckError(self)


def _where(record: dict, index: int) -> str:
    return f"{record.get('file_name', '<no file_name>')} (record {index})"


def _header_size(path: str) -> tuple[int, int]:
    """``(height, width)`` from the header, after the EXIF rotation Detectron2 applies."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # rotated by 90 degrees
                width, height = height, width
    except FileNotFoundError as e:
        raise ImageReadError(path, "image file not found") from e
    except Image.DecompressionBombError as e:
        raise ImageReadError(path, f"image too large for Pillow's MAX_IMAGE_PIXELS ({e})") from e
    except UnidentifiedImageError as e:
        raise ImageReadError(path, "not an image Pillow can identify (corrupt file?)") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(path, f"cannot read the image header ({e})") from e
    return height, width


def _check_image(record: dict, images: str) -> tuple[str, str] | None:
    """``(reason, message)`` for an image problem, or None. Runs in a thread pool."""
    path = record.get("file_name")
    if path is None:
        return "missing_file_name", "record has no 'file_name'"
    try:
        if images == "full":
            height, width = read_image_rgb(path).shape[:2]
        else:
            height, width = _header_size(path)
    except ImageReadError as e:
        reason = "missing_image" if isinstance(e.__cause__, FileNotFoundError) else "bad_image"
        return reason, f"{e.reason}"
    expected = (record.get("height"), record.get("width"))
    if None not in expected and (height, width) != expected:
        return "size_mismatch", (
            f"image is {width}x{height} (WxH), the record says {expected[1]}x{expected[0]}"
        )
    return None


def _bbox_problem(annotation: dict) -> str | None:
    """What is wrong with the annotation's box (None: nothing), checked before
    ``BoxMode.convert``, which fails with a bare ``AttributeError`` on e.g. ``"bbox": "abc"``."""
    box = annotation.get("bbox")
    if isinstance(box, (list, tuple)):
        ok = len(box) == 4 and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in box
        )
    else:
        ok = isinstance(box, (np.ndarray, torch.Tensor)) and tuple(box.shape) == (4,)
    if not ok:
        return f"bbox={box!r:.80}"
    if annotation.get("bbox_mode") not in _BOX_MODES:
        return f"bbox_mode={annotation.get('bbox_mode')!r:.80}"
    return None


def _check_annotations(record: dict, index: int, num_classes, report: DataCheckReport) -> None:
    annos = record.get("annotations", [])
    if not isinstance(annos, (list, tuple)) or not all(isinstance(a, dict) for a in annos):
        report.add_error(
            "bad_annotations",
            f"{_where(record, index)}: expected 'annotations' to be a list of dicts, "
            f"got {annos!r:.80}",
        )
        return
    for j, a in enumerate(annos):
        problem = _bbox_problem(a)
        if problem is not None:
            report.add_error(
                "bad_bbox",
                f"{_where(record, index)}: expected 'bbox' (4 numbers) and 'bbox_mode' in every "
                f"annotation; annotation {j} has {problem}",
            )
            return
    report.counts["ignore_region"] += len(record.get("ignore_regions", []) or [])
    crowd = [a for a in annos if a.get("iscrowd", 0)]
    annos = [a for a in annos if not a.get("iscrowd", 0)]
    report.counts["crowd_box"] += len(crowd)
    report.num_boxes += len(annos)
    kept = 0
    if annos:
        try:
            boxes = [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in annos]
            boxes = np.asarray(boxes, dtype=np.float32).reshape(len(annos), 4)
        except (AssertionError, KeyError, TypeError, ValueError) as e:  # convert asserts
            report.add_error("bad_bbox", f"{_where(record, index)}: expected 'bbox' (4 numbers)"
                             f" and 'bbox_mode' in every annotation ({type(e).__name__}: {e})")
            return
        width, height = record.get("width", np.inf), record.get("height", np.inf)
        _, status = classify_boxes(boxes, width, height)
        for code, key in STATUS_COUNT.items():
            report.counts[key] += int((status == code).sum())
        kept = int((status <= CLIPPED).sum())
        for j in np.flatnonzero(status == NON_FINITE):
            report.add_error("non_finite_box", f"{_where(record, index)}: annotation {j}: "
                             f"expected finite bbox coordinates, got {annos[j]['bbox']}")
        if num_classes is not None:
            for j, a in enumerate(annos):
                c = a.get("category_id")
                if not isinstance(c, (int, np.integer)) or not 0 <= c < num_classes:
                    report.add_error("unknown_category", f"{_where(record, index)}: annotation "
                                     f"{j}: category_id={c!r}, expected 0..{num_classes - 1} "
                                     f"(model.num_classes={num_classes})")
    report.kept_boxes += kept
    report.counts["image_without_objects"] += int(kept == 0)


def check_dataset_dicts(
    dicts: Sequence[dict] | Iterable[dict],
    num_classes: int | None = None,
    images: str | None = "header",
    *,
    progress: bool | None = None,
    num_threads: int | None = None,
) -> DataCheckReport:
    """Scan Detectron2 dataset dicts (boxes in any ``BoxMode`` convertible to XYXY_ABS).

    Args:
        num_classes: category ids must lie in ``0..num_classes-1`` (the contiguous ids after
            Detectron2's mapping); None skips that check.
        images: "header" opens each image header (missing/corrupt/too large, size equal to the
            record's "height"/"width" where given); "full" decodes every image (also catches
            truncated files; slow); None checks annotations only.
        progress: tqdm bar; None: only for more than 1000 images.
        num_threads: threads opening images (Pillow decodes without the GIL); None: up to 8.

    Returns the report, errors included; call ``report.raise_if_errors()`` to fail on them.
    """
    if images not in IMAGE_CHECKS:
        raise ValueError(f"image check must be one of {IMAGE_CHECKS}, got {images!r}")
    from tqdm import tqdm

    dicts = list(dicts)
    report = DataCheckReport(num_images=len(dicts), images=images)
    bar = tqdm(total=len(dicts), desc="checking training data", unit="img", leave=False,
               disable=not (len(dicts) > 1000 if progress is None else progress))
    threads = num_threads or min(8, os.cpu_count() or 1)
    chunk = 64 * threads  # bounded number of pending futures for huge datasets
    with ThreadPoolExecutor(threads) as pool:
        for start in range(0, len(dicts), chunk):
            part = dicts[start : start + chunk]
            if images is None:
                problems = [None] * len(part)
            else:
                problems = pool.map(lambda r: _check_image(r, images), part)
            for index, (record, problem) in enumerate(zip(part, problems), start):
                if problem is not None:
                    report.add_error(problem[0], f"{_where(record, index)}: {problem[1]}")
                _check_annotations(record, index, num_classes, report)
                bar.update()
    bar.close()
    return report


def train_dataset_dicts(loader) -> list[dict]:
    """The dataset dicts behind a train loader from ``build_yolo_train_loader`` or Detectron2's
    ``build_detection_train_loader`` (unwraps ``.dataset`` down to the list of dicts)."""
    mapper = getattr(loader, "mapper", None)
    dataset = getattr(mapper, "dataset", None)
    if dataset is None:
        dataset = loader
        while hasattr(dataset, "dataset") and not isinstance(dataset, DatasetFromList):
            dataset = dataset.dataset
    return [dataset[i] for i in range(len(dataset))]


def check_training_data(
    loader, num_classes: int | None = None, mode: str = "header"
) -> DataCheckReport | None:
    """What ``tools/lazyconfig_train_net.py`` runs before training (``train.data_check``).

    The main process scans the loader's dataset dicts (``mode``: "header", "full" or "off"),
    logs :meth:`DataCheckReport.table` and raises :class:`DataCheckError` on errors; the other
    ranks wait for its verdict and fail with it, so no rank hangs in a collective. Returns the
    report on the main process, None elsewhere or when ``mode`` is "off".
    """
    if mode not in DATA_CHECK_MODES:
        raise ValueError(f"train.data_check must be one of {DATA_CHECK_MODES}, got {mode!r}")
    if mode == "off":
        return None
    report = None
    if comm.is_main_process():
        report = check_dataset_dicts(train_dataset_dicts(loader), num_classes, mode)
        logger.info("Training data check:\n" + report.table())
    if comm.get_world_size() > 1:
        failed = comm.all_gather(bool(report.errors) if report is not None else None)[0]
        if failed and report is None:
            raise RuntimeError("training data check failed on the main process (see its log)")
    if report is not None:
        report.raise_if_errors()
    return report
