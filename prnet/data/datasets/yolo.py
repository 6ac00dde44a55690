"""Read a YOLO-format dataset (a ``data.yaml`` and one ``.txt`` label file per image) as a
registered Detectron2 dataset.

Layout read (the one Ultralytics documents)::

    data.yaml                 path: <dataset root>   (optional; relative to the yaml's folder)
                              train: images/train    (a folder, a .txt list of images, or a list)
                              val: images/val
                              names: [car, truck]    (or {0: car, 1: truck}; nc optional)
    images/train/a.jpg
    labels/train/a.txt        one box per line: class cx cy w h  (normalised to 0..1)

Paths in a ``.txt`` list of images are relative to the list's folder. An image's labels are
found by replacing the last ``images`` folder of its path with ``labels`` and its extension with
``.txt``; an image without a label file has no objects. A line with more than 5 values is a
polygon (``class x1 y1 x2 y2 ...``, as segmentation datasets write) and its bounding box is used.

Evaluation needs a COCO json (``AerialEvaluator`` reads the metadata's ``json_file``), so the
split is converted once into a cached COCO json, keyed by the yaml and the size and modification
time of every image and label file: editing a label file converts again. The image sizes come from
the image headers (no decoding).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor

from prnet.data.check import DataCheckError, DataCheckReport
from prnet.data.converters.common import ConversionError, clip_xywh, coco_categories
from prnet.data.converters.common import image_size, write_coco_json

from .custom import DEFAULT_PROTOCOL, register_dataset

__all__ = [
    "IMAGE_EXTENSIONS",
    "YoloData",
    "default_cache_dir",
    "label_file",
    "read_data_yaml",
    "register_yolo",
    "yolo_to_coco",
]

IMAGE_EXTENSIONS = (".bmp", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")
SPLITS = ("train", "val", "test")
_CACHE_VERSION = 1  # bump when the converted json changes for the same input


class YoloData:
    """A parsed ``data.yaml``: ``root`` (absolute), ``names`` (class index -> name) and the
    ``splits`` as given (each a list of folders or ``.txt`` lists, absolute)."""

    def __init__(self, path: str, root: str, names: list[str], splits: dict[str, list[str]]):
        self.path, self.root, self.names, self.splits = path, root, names, splits


def _fail(path: str, reason: str, message: str) -> DataCheckError:
    report = DataCheckReport()
    report.add_error(reason, message)
    return DataCheckError(report, f"{path}: cannot read this YOLO dataset")


def _names(raw, path: str) -> list[str]:
    if isinstance(raw, dict):
        if sorted(raw) != list(range(len(raw))):
            raise _fail(path, "bad_names", f"'names' keys must be the class indices 0..{len(raw) - 1}"
                        f" (each once), got {sorted(raw, key=str)}")
        return [str(raw[i]) for i in range(len(raw))]
    if isinstance(raw, list) and raw:
        return [str(n) for n in raw]
    raise _fail(path, "bad_names", "expected 'names' as a list of class names or a mapping "
                f"{{0: name, 1: name, ...}}, got {raw!r:.80}")


def read_data_yaml(data_yaml: str | os.PathLike) -> YoloData:
    """Parse and check an Ultralytics-style ``data.yaml`` (see the module doc)."""
    import yaml

    path = os.path.abspath(data_yaml)
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise _fail(path, "invalid_yaml", f"not valid YAML ({e})") from e
    if not isinstance(data, dict):
        raise _fail(path, "bad_structure", f"expected a mapping with 'train', 'val' and 'names', "
                    f"got {type(data).__name__}")
    if "names" not in data:
        raise _fail(path, "bad_names", "no 'names' (the class names, in class-index order)")
    names = _names(data["names"], path)
    if "nc" in data and data["nc"] != len(names):
        raise _fail(path, "bad_names", f"nc={data['nc']!r} but 'names' lists {len(names)} classes")
    root = os.path.join(os.path.dirname(path), os.path.expanduser(str(data.get("path") or ".")))
    splits = {}
    for split in SPLITS:
        entries = data.get(split)
        if entries:
            entries = [entries] if isinstance(entries, str) else entries
            if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
                raise _fail(path, "bad_split", f"'{split}': expected a path or a list of paths, "
                            f"got {entries!r:.80}")
            splits[split] = [os.path.normpath(os.path.join(root, e)) for e in entries]
    return YoloData(path, os.path.normpath(root), names, splits)


def _list_images(source: str, data: YoloData, split: str) -> list[str]:
    if os.path.isdir(source):
        found = []
        for folder, _, files in os.walk(source):
            found += [os.path.join(folder, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS)]
        return sorted(found)
    if os.path.isfile(source) and source.endswith(".txt"):
        with open(source, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip()]
        return [os.path.normpath(os.path.join(os.path.dirname(source), p)) for p in lines]
    raise _fail(data.path, "missing_split", f"'{split}': {source} is neither a folder of images "
                "nor a .txt list of images")


def label_file(image_path: str) -> str:
    """``.../images/x/a.jpg`` -> ``.../labels/x/a.txt`` (the last ``images`` folder replaced)."""
    parts = image_path.split(os.sep)
    folders = [i for i, part in enumerate(parts[:-1]) if part == "images"]
    if not folders:
        raise ValueError(f"{image_path}: no 'images' folder in the path, so no 'labels' folder "
                         "to read its labels from (expected .../images/.../<image>)")
    parts[folders[-1]] = "labels"
    return os.path.splitext(os.sep.join(parts))[0] + ".txt"


def _parse_line(line: str, num_classes: int):
    """``(class, (cx, cy, w, h))`` of one label line, or raise ValueError saying what is wrong."""
    fields = line.split()
    if len(fields) != 5 and (len(fields) < 7 or len(fields) % 2 == 0):
        raise ValueError(f"expected 5 values 'class cx cy w h' (or a polygon 'class x1 y1 x2 y2 x3 "
                         f"y3 ...'), got {len(fields)}: {line.strip()!r:.80}")
    try:
        values = [float(v) for v in fields]
    except ValueError:
        raise ValueError(f"expected numbers, got {line.strip()!r:.80}") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"expected finite numbers, got {line.strip()!r:.80}")
    cls = values[0]
    if cls != int(cls) or not 0 <= cls < num_classes:
        raise ValueError(f"class {fields[0]} is not one of 0..{num_classes - 1} ('names' in the "
                         "yaml lists the classes)")
    coords = values[1:]
    if not all(0.0 <= v <= 1.0 for v in coords):
        raise ValueError(f"coordinates must be normalised to 0..1 (divided by the image width and "
                         f"height), got {' '.join(fields[1:])!r:.80}")
    if len(coords) > 4:  # polygon: its bounding box
        xs, ys = coords[0::2], coords[1::2]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        coords = [(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]
    if coords[2] <= 0 or coords[3] <= 0:
        raise ValueError(f"box width and height must be > 0, got w={coords[2]:g} h={coords[3]:g}")
    return int(cls), coords


def _read_image(image: str, num_classes: int):
    """``(width, height, [(class, xywh px)], [(reason, message)])`` of one image and its labels."""
    problems = []
    try:
        width, height = image_size(image)
    except ConversionError as e:
        return 0, 0, [], [("bad_image", str(e))]
    try:
        labels = label_file(image)
    except ValueError as e:
        return width, height, [], [("no_labels_folder", str(e))]
    boxes = []
    if os.path.isfile(labels):
        with open(labels, encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    cls, (cx, cy, w, h) = _parse_line(line, num_classes)
                except ValueError as e:
                    problems.append(("bad_label_line", f"{labels}:{line_no}: {e}"))
                    continue
                box, _ = clip_xywh([(cx - w / 2) * width, (cy - h / 2) * height, w * width,
                                    h * height], width, height)
                if box is not None:
                    boxes.append((cls, box))
    return width, height, boxes, problems


def yolo_to_coco(data: YoloData, split: str, images: list[str] | None = None) -> dict:
    """The split as a COCO dict (image ids 1..N, category ids 1..K in ``names`` order, boxes
    clipped to the image). Raises :class:`DataCheckError` listing every bad image and label line
    as ``<file>:<line>: ...``."""
    if images is None:
        images = _split_images(data, split)
    report = DataCheckReport(num_images=len(images))
    coco = {"images": [], "annotations": [], "categories": coco_categories(data.names)}
    threads = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(threads) as pool:
        results = pool.map(lambda p: _read_image(p, len(data.names)), images)
        for image_id, (path, (width, height, boxes, problems)) in enumerate(zip(images, results), 1):
            for reason, message in problems:
                report.add_error(reason, message)
            rel = os.path.relpath(path, data.root)
            coco["images"].append({"id": image_id, "file_name": path if rel.startswith("..") else rel,
                                   "width": width, "height": height})
            for cls, box in boxes:
                coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": image_id,
                                            "category_id": cls + 1, "bbox": box, "iscrowd": 0,
                                            "area": box[2] * box[3]})
    if report.errors:
        raise DataCheckError(report, f"{data.path} ({split}): cannot read this YOLO dataset; "
                             "fix the files below")
    return coco


def _split_images(data: YoloData, split: str) -> list[str]:
    if split not in data.splits:
        raise _fail(data.path, "missing_split", f"no '{split}' entry (splits given: "
                    f"{', '.join(data.splits) or 'none'})")
    images = [p for source in data.splits[split] for p in _list_images(source, data, split)]
    if not images:
        raise _fail(data.path, "missing_split", f"'{split}': no images found in "
                    f"{', '.join(data.splits[split])} (extensions {', '.join(IMAGE_EXTENSIONS)})")
    return images


def default_cache_dir() -> str:
    """``$PRNET_CACHE_DIR/yolo``, else ``~/.cache/prnet/yolo`` (``$XDG_CACHE_HOME`` respected)."""
    base = os.environ.get("PRNET_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "prnet"
    )
    return os.path.join(base, "yolo")


def _fingerprint(data: YoloData, split: str, images: list[str]) -> str:
    """Changes with the yaml's content and with any image or label file's size or mtime."""
    digest = hashlib.sha256(f"{_CACHE_VERSION}\n{data.path}\n{split}\n".encode())
    with open(data.path, "rb") as f:
        digest.update(f.read())
    for image in images:
        try:
            labels = label_file(image)
        except ValueError:
            labels = ""
        for path in (image, labels):
            try:
                st = os.stat(path)
                digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            except OSError:
                digest.update(f"{path}\0missing\n".encode())
    return digest.hexdigest()[:20]


def register_yolo(
    name: str,
    data_yaml: str | os.PathLike,
    split: str = "train",
    *,
    cache_dir: str | os.PathLike | None = None,
    protocol: str = DEFAULT_PROTOCOL,
) -> str:
    """Register one split (``train``, ``val`` or ``test``) of a YOLO-format dataset as ``name``;
    returns ``name``.

    The split is converted now (or read from the cache, :func:`default_cache_dir` unless
    ``cache_dir``) into a COCO json, so a bad label line fails here, naming its file and line.
    Metadata as for :func:`~prnet.data.register_coco` (``thing_classes`` from ``names``,
    ``json_file`` the cached json, ``protocol`` the suggested evaluator preset) plus ``data_yaml``
    and ``split``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    from prnet.evaluation.presets import get_preset

    get_preset(protocol)
    data = read_data_yaml(data_yaml)
    images = _split_images(data, split)
    cache_dir = os.fspath(cache_dir) if cache_dir is not None else default_cache_dir()
    json_file = os.path.join(cache_dir, f"{split}-{_fingerprint(data, split, images)}.json")
    if not os.path.isfile(json_file):
        write_coco_json(yolo_to_coco(data, split, images), json_file)
    with open(json_file, encoding="utf-8") as f:
        categories = json.load(f)["categories"]
    if [c["name"] for c in categories] != data.names:  # a cache file edited by hand
        raise _fail(json_file, "stale_cache", "cached classes differ from the yaml's; delete it")

    def load():
        from .coco import load_coco_json_with_ignore

        return load_coco_json_with_ignore(json_file, data.root, name)

    return register_dataset(
        name,
        load,
        json_file=json_file,
        image_root=data.root,
        protocol=protocol,
        data_yaml=data.path,
        split=split,
        thing_classes=list(data.names),
        thing_dataset_id_to_contiguous_id={i + 1: i for i in range(len(data.names))},
    )
