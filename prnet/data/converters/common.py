"""Shared pieces of the dataset converters: errors, the issue report, row parsing, image sizes.

Every converter follows one rule: *nothing is dropped silently*. Input that cannot be understood
(wrong column count, non-numeric fields, unknown categories) raises :class:`ConversionError`, which
names the file and line. Input that can be repaired or skipped (a box reaching outside the image,
a missing image file) is counted in a :class:`ConversionReport` with a few example locations; with
``strict=True`` those counted issues raise instead. Rows dropped *by design* (VisDrone category 11
"others") are counted separately and never raise.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

__all__ = [
    "ConversionError",
    "ConversionReport",
    "Progress",
    "clip_xywh",
    "coco_categories",
    "image_size",
    "iter_numeric_rows",
    "write_coco_json",
    "save_converted",
]

# A progress wrapper such as ``tqdm.tqdm``: takes an iterable (and optional ``desc``/``total``
# keywords) and yields its items.
Progress = Callable[..., Iterable]

_EXIF_ORIENTATION = 0x0112  # orientations 5-8 swap width and height, as Detectron2 applies them


def _location(path: str | os.PathLike | None, line: int | None) -> str:
    if path is None:
        return "<unknown>"
    return f"{os.fspath(path)}:{line}" if line is not None else os.fspath(path)


class ConversionError(ValueError):
    """Input a converter cannot use. ``.path`` and ``.line`` (1-based, or None) say where."""

    def __init__(
        self, message: str, path: str | os.PathLike | None = None, line: int | None = None
    ):
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        self.message = message
        super().__init__(f"{_location(path, line)}: {message}" if path is not None else message)


@dataclass
class ConversionReport:
    """Counts of everything a conversion repaired, skipped or dropped, with example locations.

    * ``issues``: problems in the data that were repaired or skipped (raise if ``strict``);
    * ``dropped``: rows dropped by design (e.g. VisDrone "others"); never raise;
    * ``stats``: plain totals (images, annotations, ignore regions, per-class counts).
    """

    source: str = ""
    strict: bool = False
    max_examples: int = 5
    issues: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    stats: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def _example(self, reason: str, path, line, detail: str) -> None:
        found = self.examples.setdefault(reason, [])
        if len(found) < self.max_examples:
            found.append(f"{_location(path, line)}: {detail}" if detail else _location(path, line))

    def issue(self, reason: str, path=None, line: int | None = None, detail: str = "") -> None:
        """Count a repaired/skipped problem, or raise :class:`ConversionError` if ``strict``."""
        if self.strict:
            raise ConversionError(f"{reason}: {detail}" if detail else reason, path, line)
        self.issues[reason] += 1
        self._example(reason, path, line, detail)

    def drop(self, reason: str, path=None, line: int | None = None, detail: str = "") -> None:
        """Count a row dropped by design (documented behaviour, not a data problem)."""
        self.dropped[reason] += 1
        self._example(reason, path, line, detail)

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] += n

    @property
    def clean(self) -> bool:
        """True when no issue was counted (rows dropped by design do not count)."""
        return not self.issues

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "strict": self.strict,
            "stats": dict(sorted(self.stats.items())),
            "issues": dict(sorted(self.issues.items())),
            "dropped": dict(sorted(self.dropped.items())),
            "examples": {k: list(v) for k, v in sorted(self.examples.items())},
        }

    def format(self) -> str:
        """Human-readable summary, as the prepare scripts print it."""
        lines = [f"Conversion report for {self.source or '<input>'}", "  stats:"]
        lines += [f"    {k}: {v}" for k, v in sorted(self.stats.items())] or ["    (none)"]
        for title, counter in (
            ("dropped by design", self.dropped),
            ("issues (repaired or skipped)", self.issues),
        ):
            lines.append(f"  {title}:")
            if not counter:
                lines.append("    (none)")
            for reason, n in sorted(counter.items()):
                lines.append(f"    {reason}: {n}")
                lines += [f"      e.g. {e}" for e in self.examples.get(reason, [])]
        return "\n".join(lines)

    def write_json(self, path: str | os.PathLike) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2)
            f.write("\n")


def iter_numeric_rows(
    path: str | os.PathLike, columns: Sequence[str]
) -> Iterator[tuple[int, list[float]]]:
    """Yield ``(line_number, values)`` for each non-blank comma-separated row of a text file.

    Accepts CRLF/LF/CR line endings, a UTF-8 BOM, spaces around fields and one trailing comma
    (found in some official VisDrone files). Raises :class:`ConversionError` naming the file and
    line for a wrong column count or a field that is not a finite number.
    """
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConversionError(f"not UTF-8 text ({e.reason} at byte {e.start})", path) from e
    n = len(columns)
    for line_no, raw in enumerate(text.splitlines(), start=1):
        row = raw.strip()
        if not row:
            continue
        if row.endswith(","):
            row = row[:-1]
        fields = [f.strip() for f in row.split(",")]
        if len(fields) != n:
            raise ConversionError(
                f"expected {n} comma-separated values ({','.join(columns)}), got {len(fields)}: "
                f"{raw.strip()!r}",
                path,
                line_no,
            )
        values = []
        for name, text_value in zip(columns, fields):
            try:
                value = float(text_value)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ConversionError(
                    f"field {name!r} is not a finite number: {text_value!r}", path, line_no
                )
            values.append(value)
        yield line_no, values


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image as Detectron2 will load it, reading the header only.

    EXIF orientations 5-8 (rotated by 90 degrees) swap width and height, because Detectron2's
    ``read_image`` applies the orientation. Raises :class:`ConversionError` for a missing or
    unreadable file.
    """
    if not os.path.isfile(path):
        raise ConversionError("image file not found", path)
    try:
        with Image.open(path) as im:
            width, height = im.size
            try:
                orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
            except Exception:  # a broken EXIF block does not stop Detectron2 either
                orientation = 1
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise ConversionError(f"unreadable image ({e})", path) from e
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return int(width), int(height)


def clip_xywh(box: Sequence[float], width: float, height: float) -> tuple[list[float] | None, bool]:
    """Clip an XYWH box to the image. Returns ``(box or None if zero area, was_clipped)``."""
    x, y, w, h = (float(v) for v in box)
    x0, y0 = max(x, 0.0), max(y, 0.0)
    x1, y1 = min(x + w, float(width)), min(y + h, float(height))
    clipped = (x0, y0, x1, y1) != (x, y, x + w, y + h)
    if x1 <= x0 or y1 <= y0:
        return None, clipped
    return [x0, y0, x1 - x0, y1 - y0], clipped


def coco_categories(names: Sequence[str]) -> list[dict]:
    """COCO ``categories`` with json ids 1..K in the given order."""
    return [{"id": i, "name": name, "supercategory": "none"} for i, name in enumerate(names, 1)]


def write_coco_json(
    coco: dict, path: str | os.PathLike, report: ConversionReport | None = None
) -> Path | None:
    """Write ``coco`` to ``path`` (creating folders) and ``report`` to ``<stem>.report.json``.

    Returns the report path, or None when no report was given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(coco, f, separators=(",", ":"))
    os.replace(tmp, path)  # never leave a half-written json where the registry looks
    if report is None:
        return None
    report_path = path.with_name(path.stem + ".report.json")
    report.write_json(report_path)
    return report_path


def save_converted(coco: dict, path: str | os.PathLike, report: ConversionReport) -> Path:
    """What every ``datasets/prepare_*.py`` does with a converted split: write the json and its
    report (:func:`write_coco_json`), print the report and a one-line summary."""
    report_path = write_coco_json(coco, path, report)
    print(report.format())
    print(
        f"wrote {path} ({len(coco['images'])} images, {len(coco['annotations'])} annotations) "
        f"and {report_path}"
    )
    return report_path
