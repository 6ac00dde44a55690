"""Look at a dataset before training on it: samples drawn with their boxes and ignore regions, and
object-size histograms per AI-TOD size bin, overall and per class.

    browse visdrone2019_val --output out/browse                 # any registered dataset
    browse data/my_yolo/data.yaml --split val --output out/b    # a YOLO data.yaml
    browse annotations/val.json --image-root images/val --output out/b   # a COCO json
    browse my_val --config-file configs/custom/my_data.py --output out/b # names registered there

Writes into --output: samples/NNN_<image>.png (thin boxes in the class colour just outside each
object, on the image upscaled without smoothing so that objects of a few pixels stay visible;
ignore regions hatched grey, crowd boxes grey, classes in a legend strip instead of labels over
the objects), size_histograms.png and size_histograms.json (counts per bin, overall and per class).

Bins are the ``aitod`` preset's (prnet.evaluation.presets): very tiny < 8 px, tiny 8-16, small
16-32, medium >= 32 (the square root of the box area). Each box counts in one bin: its area
a in [lo, hi) (pycocotools' own ranges include both ends, so evaluation counts a box of exactly
8 x 8 px in both "verytiny" and "tiny"). Crowd boxes (iscrowd=1) are counted apart.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random

__all__ = ["browse", "draw_sample", "get_parser", "main", "size_bins", "size_counts"]


def get_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", help="a registered dataset name, a YOLO data.yaml or a COCO json")
    parser.add_argument("--output", required=True, help="folder to write the pictures and counts into")
    parser.add_argument("--num-images", type=int, default=16, help="samples to draw (default 16)")
    parser.add_argument("--split", default="val", help="data.yaml: the split to read (default val)")
    parser.add_argument("--image-root", help="COCO json: the images' folder (default: the json's)")
    parser.add_argument("--config-file", help="a LazyConfig file to load first: the datasets it "
                        "registers (prnet.data.register_coco / register_yolo) can be browsed")
    parser.add_argument("--seed", type=int, default=0, help="which images are sampled (default 0)")
    parser.add_argument("--min-side", type=int, default=512,
                        help="upscale samples whose short side is smaller (integer factor, no "
                        "smoothing, at most 8x; default 512)")
    return parser


def size_bins():
    """The ``aitod`` preset's size bins (``AreaRange``, the ``all`` range left out)."""
    from prnet.evaluation.presets import PRESETS

    return [a for a in PRESETS["aitod"].area_ranges if a.name != "all"]


def _bin_of(area: float, bins) -> str:
    for b in bins[:-1]:
        if b.lo <= area < b.hi:
            return b.name
    return bins[-1].name


def size_counts(dicts, class_names) -> dict:
    """Counts of boxes per size bin, overall and per class, of Detectron2 dataset dicts (any
    ``bbox_mode``); also the square root of each counted box's area (``sides``, for plots)."""
    from detectron2.structures import BoxMode

    bins = size_bins()
    empty = {b.name: 0 for b in bins}
    overall, per_class, sides = dict(empty), {c: dict(empty) for c in class_names}, []
    crowd = regions = 0
    for record in dicts:
        regions += len(record.get("ignore_regions") or [])
        for ann in record.get("annotations", []):
            if ann.get("iscrowd", 0):
                crowd += 1
                continue
            x0, y0, x1, y1 = BoxMode.convert(list(ann["bbox"]), ann["bbox_mode"], BoxMode.XYXY_ABS)
            area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
            name = _bin_of(area, bins)
            overall[name] += 1
            per_class[class_names[ann["category_id"]]][name] += 1
            sides.append(math.sqrt(area))
    edges = [{"name": b.name, "area_px2": [b.lo, b.hi],
              "side_px": [math.sqrt(b.lo), math.sqrt(b.hi) if b is not bins[-1] else None]}
             for b in bins]
    return {"num_images": len(dicts), "num_boxes": len(sides), "crowd_boxes": crowd,
            "ignore_regions": regions, "bins": edges, "rule": "lo <= w*h < hi (last bin open)",
            "all": overall, "per_class": per_class, "sides": sides}


def _colours(n: int) -> list[tuple[int, int, int]]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [tuple(int(255 * v) for v in cmap(i % cmap.N)[:3]) for i in range(n)]


def _hatched(width: int, height: int):
    """A grey, diagonally hatched RGBA patch with an outline: how an ignore region is shown."""
    from PIL import Image, ImageDraw

    patch = Image.new("RGBA", (width, height), (128, 128, 128, 70))
    draw = ImageDraw.Draw(patch)
    for offset in range(0, width + height, 8):
        draw.line([(offset, 0), (offset - height, height)], fill=(220, 220, 220, 120))
    draw.rectangle([0, 0, width - 1, height - 1], outline=(220, 220, 220, 255))
    return patch


def draw_sample(record: dict, class_names, min_side: int = 512):
    """The record's image (PIL, RGB) with thin boxes in class colours, ignore regions hatched
    grey, crowd boxes grey, upscaled by an integer factor (nearest) to ``min_side`` (at most 8x)
    and a legend strip of the classes it holds."""
    from detectron2.structures import BoxMode
    from PIL import Image, ImageDraw

    from prnet.data.image_io import read_image_rgb

    image = Image.fromarray(read_image_rgb(record["file_name"]))
    scale = max(1, min(8, math.ceil(min_side / max(1, min(image.size)))))
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    for region in record.get("ignore_regions") or []:
        x0, y0, x1, y1 = (min(max(int(round(v * scale)), 0), size) for v, size in
                          zip(region, (image.width, image.height) * 2))
        if x1 > x0 and y1 > y0:
            overlay.alpha_composite(_hatched(x1 - x0, y1 - y0), dest=(x0, y0))
    image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    draw, colours, shown = ImageDraw.Draw(image), _colours(len(class_names)), set()
    line = 1 + scale // 4
    for ann in record.get("annotations", []):
        x0, y0, x1, y1 = BoxMode.convert(list(ann["bbox"]), ann["bbox_mode"], BoxMode.XYXY_ABS)
        crowd = ann.get("iscrowd", 0)
        colour = (160, 160, 160) if crowd else colours[ann["category_id"]]
        shown.update(() if crowd else (ann["category_id"],))
        # outline just outside the object so its pixels stay visible; a quarter of an image pixel
        # wide when upscaled (1 px at native size)
        box = [x0 * scale - line, y0 * scale - line, x1 * scale + line - 1, y1 * scale + line - 1]
        draw.rectangle(box, outline=colour, width=line)
    legend = [(class_names[c], colours[c]) for c in sorted(shown)]
    rows = math.ceil(len(legend) / 4) if legend else 0
    canvas = Image.new("RGB", (image.width, image.height + 16 * rows), (255, 255, 255))
    canvas.paste(image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    column = max(1, image.width // 4)
    for i, (name, colour) in enumerate(legend):
        x, y = (i % 4) * column + 4, image.height + 16 * (i // 4) + 3
        draw.rectangle([x, y, x + 10, y + 10], fill=colour)
        draw.text((x + 14, y - 1), name, fill=(0, 0, 0))
    return canvas


def _plot_histograms(counts: dict, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    bins = [b["name"] for b in counts["bins"]]
    fig, (ax_all, ax_side, ax_cls) = plt.subplots(3, 1, figsize=(9, 11))
    values = [counts["all"][b] for b in bins]
    bars = ax_all.bar(bins, values, color="#4c72b0")
    ax_all.bar_label(bars, labels=[str(v) for v in values])
    ax_all.set(title=f"{title}: {counts['num_boxes']} boxes in {counts['num_images']} images "
               "per AI-TOD size bin", ylabel="boxes")
    sides = np.asarray(counts["sides"], dtype=float)
    top = max(64.0, float(sides.max()) * 1.1) if len(sides) else 64.0
    ax_side.hist(sides, bins=np.geomspace(1.0, top, 50), color="#55a868")
    for edge in {b["side_px"][0] for b in counts["bins"]} - {0.0}:
        ax_side.axvline(edge, color="k", linestyle="--", linewidth=0.8)
    ax_side.set(xscale="log", xlabel="object size: sqrt(w * h) in px (bins at 8, 16, 32 px)",
                ylabel="boxes")
    classes = list(counts["per_class"])
    width = 0.8 / max(1, len(classes))
    x = np.arange(len(bins))
    for i, name in enumerate(classes):
        colour = tuple(v / 255 for v in _colours(len(classes))[i])
        ax_cls.bar(x + i * width - 0.4 + width / 2, [counts["per_class"][name][b] for b in bins],
                   width, label=name, color=colour)
    ax_cls.set_xticks(x, bins)
    ax_cls.set(title="per class", ylabel="boxes")
    ax_cls.legend(fontsize="small", ncol=min(5, max(1, len(classes))))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _dataset_name(args) -> str:
    from detectron2.data import DatasetCatalog

    import prnet.data  # registers the built-in datasets
    from prnet.config import ConfigError
    from prnet.config.check import _suggest

    if args.config_file:
        from detectron2.config import LazyConfig

        LazyConfig.load(args.config_file)  # runs the register_* calls the file makes
    if args.dataset.endswith((".yaml", ".yml")) and os.path.isfile(args.dataset):
        return prnet.data.register_yolo(f"browse_yolo_{args.split}", args.dataset, args.split)
    if args.dataset.endswith(".json") and os.path.isfile(args.dataset):
        root = args.image_root or os.path.dirname(os.path.abspath(args.dataset))
        return prnet.data.register_coco("browse_coco", args.dataset, root)
    registered = DatasetCatalog.list()
    if args.dataset not in registered:
        raise ConfigError([f"unknown dataset {args.dataset!r}{_suggest(args.dataset, registered)}: "
                           "give a registered name (--config-file to run the file registering it), "
                           "a YOLO data.yaml or a COCO .json"])
    return args.dataset


def browse(name: str, output: str, num_images: int = 16, seed: int = 0, min_side: int = 512) -> dict:
    """Draw ``num_images`` random samples of the registered dataset ``name`` and its size
    histograms into ``output``; returns ``{"samples": [paths], "histograms": path,
    "counts": path}``."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    dicts = DatasetCatalog.get(name)
    classes = MetadataCatalog.get(name).get("thing_classes")
    if classes is None:
        top = max((a["category_id"] for r in dicts for a in r.get("annotations", [])), default=-1)
        classes = [str(i) for i in range(top + 1)]
    os.makedirs(os.path.join(output, "samples"), exist_ok=True)
    samples = []
    picked = random.Random(seed).sample(range(len(dicts)), min(num_images, len(dicts)))
    for i, index in enumerate(sorted(picked)):
        record = dicts[index]
        stem = os.path.splitext(os.path.basename(record["file_name"]))[0]
        path = os.path.join(output, "samples", f"{i:03d}_{stem}.png")
        draw_sample(record, classes, min_side).save(path)
        samples.append(path)
    counts = size_counts(dicts, list(classes))
    figure = os.path.join(output, "size_histograms.png")
    _plot_histograms(counts, figure, name)
    counts_path = os.path.join(output, "size_histograms.json")
    with open(counts_path, "w", encoding="utf-8") as f:
        json.dump({"dataset": name, **{k: v for k, v in counts.items() if k != "sides"}}, f, indent=2)
    return {"samples": samples, "histograms": figure, "counts": counts_path, "size_counts": counts}


def main(argv=None) -> dict:
    args = get_parser().parse_args(argv)
    from prnet.cli.errors import exits_on_user_error

    @exits_on_user_error
    def run():
        result = browse(_dataset_name(args), args.output, args.num_images, args.seed, args.min_side)
        counts = result["size_counts"]
        print(f"{counts['num_boxes']} boxes ({counts['crowd_boxes']} crowd boxes apart) in "
              f"{counts['num_images']} images: "
              + ", ".join(f"{k} {v}" for k, v in counts["all"].items()))
        print(f"wrote {len(result['samples'])} samples, {result['histograms']}, {result['counts']}")
        return result

    return run()
