"""UAVDT-DET per-sequence ground truth -> one COCO json per split, one image per video frame.

Input, per sequence ``Mxxxx`` (Du et al., "The Unmanned Aerial Vehicle Benchmark: Object Detection
and Tracking", ECCV 2018):

* ``<gt_dir>/Mxxxx_gt_whole.txt``: rows ``frame,target_id,left,top,width,height,out_of_view,
  occlusion,category`` (category 1 car, 2 truck, 3 bus) -> annotations with json ids 1..3;
* ``<gt_dir>/Mxxxx_gt_ignore.txt``: ignored regions, same columns, one row per region and frame
  -> ``images[i]["ignore_regions"]`` (XYWH) of that frame;
* ``<images_dir>/Mxxxx/img000001.jpg``: frames; ``file_name`` is ``Mxxxx/img000001.jpg``.

Every frame found in the sequence folder becomes an image (frames without objects included). Frame
sizes come from the image headers. Only when the frames are absent and the caller passes
``assume_size`` are the frames taken from the ground truth (frames without any row are then
unknown and left out) with that size; :data:`UAVDT_FRAME_SIZE` documents the usual one.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from .common import (
    ConversionError,
    ConversionReport,
    Progress,
    clip_xywh,
    coco_categories,
    image_size,
    iter_numeric_rows,
)

__all__ = [
    "UAVDT_CLASSES",
    "UAVDT_COLUMNS",
    "UAVDT_FRAME_SIZE",
    "UAVDT_TEST_SEQUENCES",
    "convert_uavdt",
    "discover_uavdt_sequences",
    "read_sequence_list",
    "split_uavdt_sequences",
]

UAVDT_CLASSES = ("car", "truck", "bus")  # json category ids 1..3, as in the ground truth
UAVDT_COLUMNS = (
    "frame",
    "target_id",
    "left",
    "top",
    "width",
    "height",
    "out_of_view",
    "occlusion",
    "category",
)
# Size of the distributed UAVDT frames (width, height). The paper quotes 1080x540, the frames on
# disk are 1024x540; sizes are read from the files and this is used only on explicit request.
UAVDT_FRAME_SIZE = (1024, 540)
# The 20 test sequences of the commonly used UAVDT-DET split (the other 30 of the 50 are train).
UAVDT_TEST_SEQUENCES = (
    "M0203",
    "M0205",
    "M0208",
    "M0209",
    "M0403",
    "M0601",
    "M0602",
    "M0606",
    "M0701",
    "M0801",
    "M0802",
    "M1001",
    "M1004",
    "M1007",
    "M1009",
    "M1101",
    "M1301",
    "M1302",
    "M1303",
    "M1401",
)
_SEQUENCE = re.compile(r"^M\d{4}$")
_FRAME_FILE = re.compile(r"^img(\d+)\.jpe?g$", re.IGNORECASE)
_GT_WHOLE, _GT_IGNORE = "_gt_whole.txt", "_gt_ignore.txt"


def read_sequence_list(path: str | os.PathLike) -> list[str]:
    """Sequence names from a text file: whitespace/comma separated, ``#`` starts a comment."""
    names: list[str] = []
    text = Path(path).read_text(encoding="utf-8-sig")
    for line_no, line in enumerate(text.splitlines(), start=1):
        for name in line.split("#", 1)[0].replace(",", " ").split():
            if not _SEQUENCE.match(name):
                raise ConversionError(
                    f"expected a sequence name like M0101, got {name!r}", path, line_no
                )
            names.append(name)
    if len(set(names)) != len(names):
        raise ConversionError("a sequence is listed twice", path)
    return names


def discover_uavdt_sequences(gt_dir: str | os.PathLike) -> list[str]:
    """Sorted names of the sequences that have a ``<name>_gt_whole.txt`` in ``gt_dir``."""
    gt_dir = Path(gt_dir)
    if not gt_dir.is_dir():
        raise ConversionError("ground-truth folder not found", gt_dir)
    return sorted(p.name[: -len(_GT_WHOLE)] for p in gt_dir.glob("M*" + _GT_WHOLE))


def split_uavdt_sequences(
    available: Iterable[str], test_sequences: Sequence[str] = UAVDT_TEST_SEQUENCES
) -> dict[str, list[str]]:
    """``{"train": [...], "test": [...]}``: test is ``test_sequences``, train all other ones.

    Raises :class:`ConversionError` when a test sequence is not available, because a partial test
    set would silently change the benchmark.
    """
    available = sorted(set(available))
    missing = sorted(set(test_sequences) - set(available))
    if missing:
        raise ConversionError(
            f"test sequences not found in the ground truth: {' '.join(missing)} "
            "(download all of UAVDT-DET or pass another test list)"
        )
    test = sorted(test_sequences)
    return {"train": [s for s in available if s not in set(test)], "test": test}


def _frame_number(value: float, path: Path, line: int) -> int:
    if value != int(value) or value < 1:
        raise ConversionError(f"frame must be a positive integer, got {value:g}", path, line)
    return int(value)


def _read_sequence_gt(seq: str, gt_dir: Path, report: ConversionReport):
    """Rows of one sequence grouped by frame: ``(objects, ignores)``, each frame -> rows."""
    whole, ignore = gt_dir / (seq + _GT_WHOLE), gt_dir / (seq + _GT_IGNORE)
    if not whole.is_file():
        raise ConversionError(f"ground truth of sequence {seq} not found", whole)
    objects: dict[int, list] = defaultdict(list)
    for line, values in iter_numeric_rows(whole, UAVDT_COLUMNS):
        category = values[8]
        if category not in (1, 2, 3):
            raise ConversionError(
                f"category must be 1 (car), 2 (truck) or 3 (bus), got {category:g}", whole, line
            )
        objects[_frame_number(values[0], whole, line)].append((whole, line, values))
    ignores: dict[int, list] = defaultdict(list)
    if ignore.is_file():
        for line, values in iter_numeric_rows(ignore, UAVDT_COLUMNS):
            ignores[_frame_number(values[0], ignore, line)].append((ignore, line, values))
    else:
        report.issue("missing_gt_ignore", ignore, detail=f"sequence {seq} has no ignore regions")
    return objects, ignores


def _sequence_frames(
    seq: str, images_dir: Path, gt_frames: set[int], assume_size
) -> dict[int, Path | None]:
    seq_dir = images_dir / seq
    if seq_dir.is_dir():
        frames = {}
        for p in seq_dir.iterdir():
            m = _FRAME_FILE.match(p.name)
            if m:
                frames[int(m.group(1))] = p
        if frames:
            return dict(sorted(frames.items()))
    if assume_size is None:
        raise ConversionError(
            "no frames (img000001.jpg, ...) found; pass assume_size=(width, height) "
            "(--assume-size) to convert from the ground truth alone",
            seq_dir,
        )
    return {frame: None for frame in sorted(gt_frames)}


def _boxes(rows, width: int, height: int, report: ConversionReport):
    """Yield ``(values, clipped XYWH box)`` for rows whose box keeps a positive area."""
    for path, line, values in rows:
        x, y, w, h = values[2:6]
        if w <= 0 or h <= 0:
            report.issue("non_positive_size", path, line, f"width={w:g} height={h:g}")
            continue
        box, clipped = clip_xywh((x, y, w, h), width, height)
        if box is None:
            report.issue(
                "zero_area_after_clip",
                path,
                line,
                f"{x:g},{y:g},{w:g},{h:g} outside " f"{width}x{height} frame",
            )
            continue
        if clipped:
            report.issue(
                "clipped_box", path, line, f"{x:g},{y:g},{w:g},{h:g} clipped to {width}x{height}"
            )
        yield values, box


def convert_uavdt(
    images_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    sequences: Sequence[str],
    *,
    assume_size: tuple[int, int] | None = None,
    strict: bool = False,
    max_examples: int = 5,
    progress: Progress | None = None,
) -> tuple[dict, ConversionReport]:
    """Convert the given UAVDT sequences into one COCO dict. Returns ``(coco_dict, report)``.

    Image ids are 1-based in (sequence, frame) order. Ground truth of a frame whose image is
    missing, or unreadable, is skipped and counted (errors if ``strict``).
    """
    images_dir, gt_dir = Path(images_dir), Path(gt_dir)
    if not gt_dir.is_dir():
        raise ConversionError("ground-truth folder not found", gt_dir)
    if len(set(sequences)) != len(sequences):
        raise ValueError(f"a sequence is listed twice: {list(sequences)}")
    report = ConversionReport(source=os.fspath(gt_dir), strict=strict, max_examples=max_examples)
    work = []  # (seq, frame, image path or None, object rows, ignore rows)
    for seq in sequences:
        objects, ignores = _read_sequence_gt(seq, gt_dir, report)
        gt_frames = set(objects) | set(ignores)
        frames = _sequence_frames(seq, images_dir, gt_frames, assume_size)
        for frame in sorted(gt_frames - set(frames)):
            path, line, _ = (objects.get(frame) or ignores[frame])[0]
            report.issue(
                "missing_image",
                path,
                line,
                f"no {seq}/img{frame:06d}.jpg; rows of the frame skipped",
            )
        for frame, image_path in frames.items():
            work.append((seq, frame, image_path, objects.get(frame, []), ignores.get(frame, [])))
        report.count("sequences")
    if progress is not None:
        work = progress(work, desc="UAVDT frames", unit="img")

    coco = {
        "info": {"description": "UAVDT-DET (converted by prnet)", "sequences": list(sequences)},
        "images": [],
        "annotations": [],
        "categories": coco_categories(UAVDT_CLASSES),
    }
    for seq, frame, image_path, object_rows, ignore_rows in work:
        if image_path is None:
            width, height = assume_size
            file_name = f"{seq}/img{frame:06d}.jpg"
            report.count("frames_with_assumed_size")
        else:
            try:
                width, height = image_size(image_path)
            except ConversionError as e:
                report.issue("unreadable_image", image_path, detail=e.message)
                continue
            file_name = image_path.relative_to(images_dir).as_posix()
        image_id = len(coco["images"]) + 1
        regions = [box for _, box in _boxes(ignore_rows, width, height, report)]
        report.count("ignore_regions", len(regions))
        for values, box in _boxes(object_rows, width, height, report):
            category = int(values[8])
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": category,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                    "track_id": int(values[1]),
                    "out_of_view": int(values[6]),
                    "occlusion": int(values[7]),
                }
            )
            report.count("annotations")
            report.count(f"class/{UAVDT_CLASSES[category - 1]}")
        coco["images"].append(
            {
                "id": image_id,
                "file_name": file_name,
                "width": width,
                "height": height,
                "ignore_regions": regions,
                "sequence": seq,
                "frame": frame,
            }
        )
        report.count("images")
    return coco, report
