"""Optional peer for comparisons: train an Ultralytics YOLO11 model on a registered dataset and
score it with prnet's own evaluator, so its numbers sit next to prnet models unchanged.

    python tools/ultralytics_peer.py --model yolo11n --train synthetic_aerial_demo_train \
        --test synthetic_aerial_val --image-size 128 --test-image-size 320 --epochs 4 \
        --batch 16 --preset synthetic --output-dir output/peers/yolo11n

Needs the optional ``ultralytics`` package. Its dependencies name ``opencv-python``, whose ``cv2``
would overwrite the ``opencv-python-headless`` prnet uses, so install it without them:

    pip install --no-deps ultralytics
    pip install requests psutil polars ultralytics-thop -c requirements/constraints.txt

``ultralytics`` is imported only inside the functions that train or run the peer; the dataset
export does not need it, and the ``prnet`` library never imports it.

What is shared with prnet: the images and labels (both registered splits exported to the YOLO
txt format), the number of epochs, batch size and training image size, the test image size, the
NMS rules (score >= 0.001, class-aware NMS at IoU 0.7, the preset's detection budget per image),
the scorer (``prnet.evaluation.AerialEvaluator`` under the named preset, ignore regions
included) and the cost conventions (unfused parameters, conv-only GFLOPs as in
``prnet.analysis.count_flops``, eager CPU latency of forward + NMS at batch 1). What is not: the
training recipe, which is Ultralytics' own (see ``RECIPE``).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import time

import numpy as np
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import Boxes, BoxMode, Instances

import prnet.data  # noqa: F401  (registers the built-in datasets the peer is trained on)
from prnet.analysis import count_parameters, time_function
from prnet.evaluation import AerialEvaluator, get_preset

__all__ = ["RECIPE", "recipe", "export_split", "export_yolo_dataset", "train_and_evaluate", "main"]

#: What differs from prnet's recipe (returned with every result so tables can say so).
RECIPE = (
    "ultralytics defaults from scratch (no pretrained weights): optimizer='auto' (chosen by "
    "Ultralytics from the iteration count), its own LR schedule, warmup and EMA, its own "
    "augmentation (mosaic off for the last close_mosaic=10 epochs, HSV, flip, translate/scale, "
    "...), its own loss and assigner; crowd boxes dropped and ignore regions left unlabelled "
    "(YOLO labels cannot mark them); last-epoch weights; same data, epochs, batch, image sizes, "
    "NMS rules and scorer as prnet"
)
_CLOSE_MOSAIC = 10  # Ultralytics' default, kept


def recipe(epochs: int) -> str:
    """``RECIPE``, noting when the run is too short for Ultralytics to use mosaic at all."""
    if epochs <= _CLOSE_MOSAIC:
        return RECIPE + f" (with {epochs} epochs <= close_mosaic={_CLOSE_MOSAIC}: no mosaic at all)"
    return RECIPE


_METRIC_KEYS = ("AP", "AP50", "APvt", "APt", "APs")


# ---------------------------------------------------------------------------------------------
# YOLO-format export (no ultralytics needed)
# ---------------------------------------------------------------------------------------------
def _image_size(record: dict) -> tuple[int, int]:
    if "height" in record and "width" in record:
        return int(record["height"]), int(record["width"])
    from PIL import Image

    with Image.open(record["file_name"]) as im:
        return im.height, im.width


def _label_lines(record: dict, num_classes: int) -> tuple[list[str], int, int]:
    """YOLO label lines ``class cx cy w h`` (normalised to [0, 1]) of one Detectron2 record,
    with the number of crowd boxes and of boxes empty after clipping that were left out."""
    height, width = _image_size(record)
    lines, crowd, empty = [], 0, 0
    for ann in record.get("annotations", []):
        if ann.get("iscrowd", 0):
            crowd += 1
            continue
        cls = int(ann["category_id"])
        if not 0 <= cls < num_classes:
            raise ValueError(
                f"{record['file_name']}: category_id {cls} is not a contiguous id "
                f"0..{num_classes - 1}"
            )
        x0, y0, x1, y1 = BoxMode.convert(list(ann["bbox"]), ann["bbox_mode"], BoxMode.XYXY_ABS)
        x0, x1 = min(max(x0, 0.0), width), min(max(x1, 0.0), width)
        y0, y1 = min(max(y0, 0.0), height), min(max(y1, 0.0), height)
        if x1 <= x0 or y1 <= y0:
            empty += 1
            continue
        cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
        w, h = (x1 - x0) / width, (y1 - y0) / height
        lines.append(f"{cls} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return lines, crowd, empty


def export_split(records: list[dict], root: str, split: str, num_classes: int) -> dict:
    """Write ``root/images/<split>/`` (symlinks to the images) and ``root/labels/<split>/*.txt``.

    Images are named ``<index:07d><suffix>`` in record order, so names never collide and index
    ``i`` of ``images/<split>`` is ``records[i]``. Crowd boxes are skipped (YOLO labels have no
    "ignore" flag); images without boxes get an empty label file. Returns counts.
    """
    image_dir = os.path.join(root, "images", split)
    label_dir = os.path.join(root, "labels", split)
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(label_dir, exist_ok=True)
    stats = {"images": 0, "boxes": 0, "skipped_crowd": 0, "skipped_empty": 0}
    for i, record in enumerate(records):
        source = os.path.abspath(record["file_name"])
        suffix = os.path.splitext(source)[1].lower() or ".jpg"
        stem = f"{i:07d}"
        link = os.path.join(image_dir, stem + suffix)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(source, link)
        lines, crowd, empty = _label_lines(record, num_classes)
        with open(os.path.join(label_dir, stem + ".txt"), "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
        stats["images"] += 1
        stats["boxes"] += len(lines)
        stats["skipped_crowd"] += crowd
        stats["skipped_empty"] += empty
    return stats


def export_yolo_dataset(train_name: str, test_name: str, output_dir: str) -> dict:
    """Export two registered Detectron2 datasets to an Ultralytics dataset under
    ``output_dir/yolo_data`` (``images/{train,val}``, ``labels/{train,val}``, ``data.yaml``).

    Returns ``{"data_yaml", "root", "names", "train": counts, "val": counts}``.
    """
    names = list(MetadataCatalog.get(train_name).thing_classes)
    test_names = MetadataCatalog.get(test_name).get("thing_classes")
    if test_names is not None and list(test_names) != names:
        raise ValueError(
            f"{train_name!r} and {test_name!r} have different classes: "
            f"{names} vs {list(test_names)}"
        )
    root = os.path.abspath(os.path.join(output_dir, "yolo_data"))
    stats = {"root": root, "names": names}
    for split, name in (("train", train_name), ("val", test_name)):
        stats[split] = export_split(DatasetCatalog.get(name), root, split, len(names))
    data = {
        "path": root,
        "train": "images/train",
        "val": "images/val",
        "names": names,  # index = contiguous class id
    }
    stats["data_yaml"] = os.path.join(root, "data.yaml")
    with open(stats["data_yaml"], "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)  # JSON is YAML
    return stats


# ---------------------------------------------------------------------------------------------
# Ultralytics peer
# ---------------------------------------------------------------------------------------------
def _import_ultralytics():
    """``ultralytics`` with its online features off (no analytics, no update checks), and without
    the patch of ``PIL.Image.open`` it applies on import (for HEIC files): prnet's own image
    decoding (``prnet.data.image_io``) must not change because a peer ran in the process."""
    # Read once, when ultralytics is first imported: is_online() then answers False.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from PIL import Image

    image_open = Image.open
    try:
        import ultralytics
    except ImportError as e:
        raise ImportError(
            "The Ultralytics peer needs the optional `ultralytics` package: "
            "pip install --no-deps ultralytics; pip install requests psutil polars "
            "ultralytics-thop (see tools/ultralytics_peer.py)"
        ) from e
    finally:
        Image.open = image_open
    return ultralytics


@contextlib.contextmanager
def _offline_and_isolated(threads: int):
    """Keep an Ultralytics run from touching the network or this process's torch settings.

    * Its dataset check fetches a plotting font (``check_font``) when missing; with
      ``plots=False`` the font is never used, so that check is skipped.
    * Its trainer, validator and predictor set ``torch.set_num_threads(os.cpu_count() - 1)``
      (``_keep_threads`` puts the caller's count back when each starts, so both models train
      and run on the same threads), and the trainer turns on deterministic algorithms; both are
      restored on exit.
    """
    import ultralytics.data.utils as yolo_data_utils

    saved = {
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "cudnn": torch.backends.cudnn.deterministic,
        "fill": torch.utils.deterministic.fill_uninitialized_memory,
        "check_font": getattr(yolo_data_utils, "check_font", None),
    }
    if saved["check_font"] is not None:
        yolo_data_utils.check_font = lambda *args, **kwargs: None
    try:
        yield
    finally:
        if saved["check_font"] is not None:
            yolo_data_utils.check_font = saved["check_font"]
        torch.use_deterministic_algorithms(saved["deterministic"], warn_only=saved["warn_only"])
        torch.backends.cudnn.deterministic = saved["cudnn"]
        torch.utils.deterministic.fill_uninitialized_memory = saved["fill"]
        torch.set_num_threads(threads)


def _keep_threads(yolo, threads: int):
    """Put the caller's torch thread count back when each Ultralytics stage starts."""
    for event in ("on_train_start", "on_val_start", "on_predict_start"):
        yolo.add_callback(event, lambda *_: torch.set_num_threads(threads))


def _epoch_timer(yolo) -> dict:
    """Seconds spent inside training epochs (batches and data loading; not the set-up, label
    caching or Ultralytics' validation passes), summed in ``["seconds"]``."""
    timer = {"seconds": 0.0, "start": None}

    def start(_):
        timer["start"] = time.perf_counter()

    def stop(_):
        if timer["start"] is not None:
            timer["seconds"] += time.perf_counter() - timer["start"]
            timer["start"] = None

    yolo.add_callback("on_train_epoch_start", start)
    yolo.add_callback("on_train_epoch_end", stop)
    return timer


def _detection_budget(preset) -> int:
    preset = get_preset(preset)
    return int(preset.per_image_max_dets or preset.max_dets[-1])


def _score(yolo, test_name: str, preset: str, test_image_size: int, max_det: int, out: str) -> dict:
    """Predict every image of ``test_name`` and score it with ``AerialEvaluator``."""
    records = DatasetCatalog.get(test_name)
    evaluator = AerialEvaluator(test_name, preset, out, distributed=False)
    evaluator.reset()
    sources = [os.path.abspath(r["file_name"]) for r in records]
    results = yolo.predict(
        source=sources, imgsz=test_image_size, conf=0.001, iou=0.7, max_det=max_det,
        agnostic_nms=False, device="cpu", stream=True, verbose=False, save=False,
    )  # fmt: skip
    count = 0
    for record, result in zip(records, results):
        if os.path.abspath(result.path) != os.path.abspath(record["file_name"]):
            raise RuntimeError(f"prediction order changed: {result.path} vs {record['file_name']}")
        height, width = result.orig_shape
        boxes = result.boxes
        instances = Instances(
            (height, width),
            pred_boxes=Boxes(boxes.xyxy.float().cpu()),
            scores=boxes.conf.float().cpu(),
            pred_classes=boxes.cls.long().cpu(),
        )
        evaluator.process([{"image_id": record["image_id"]}], [{"instances": instances}])
        count += 1
    if count != len(records):
        raise RuntimeError(f"got predictions for {count} of {len(records)} images")
    metrics = evaluator.evaluate()["bbox"]
    return {k: float(metrics.get(k, math.nan)) for k in _METRIC_KEYS}


def _conv_gflops(net: torch.nn.Module, size: int) -> float:
    """Conv-only GFLOPs (2 x multiply-adds) at batch 1, as ``prnet.analysis.count_flops``."""
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(net, (torch.zeros(1, 3, size, size),))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return 2 * analysis.by_operator().get("conv", 0) / 1e9


def _latency_ms(net: torch.nn.Module, size: int, max_det: int) -> float:
    """Median eager CPU latency (ms) of forward + class-aware NMS on one ``size`` image."""
    from ultralytics.utils.nms import non_max_suppression

    image = torch.from_numpy(
        np.random.default_rng(0).integers(0, 256, (1, 3, size, size), dtype=np.uint8)
    ).float() / 255

    def step():
        with torch.no_grad():
            preds = net(image)
            non_max_suppression(preds, conf_thres=0.001, iou_thres=0.7, max_det=max_det)

    return time_function(step)["median_ms"]


def train_and_evaluate(
    model: str,
    train_name: str,
    test_name: str,
    *,
    image_size: int,
    test_image_size: int,
    epochs: int,
    batch: int,
    output_dir: str,
    preset: str,
    seed: int = 0,
    latency_size: int = 640,
    workers: int = 2,
) -> dict:
    """Train ``model`` (an Ultralytics model yaml stem such as ``yolo11n``) from scratch on CPU on
    ``train_name``, predict ``test_name`` and score it under ``preset``.

    Returns ``{"name", "params", "gflops" (conv-only at latency_size), "latency_ms" (median, CPU
    eager, batch 1, latency_size, forward + NMS), "metrics": {"AP", "AP50", "APvt", "APt",
    "APs"} (percent; NaN where the preset has no such bin), "train_seconds" (inside the training
    epochs only), "recipe"}``. Files: ``output_dir/yolo_data`` (exported dataset),
    ``output_dir/train`` (Ultralytics run, weights in ``weights/last.pt``), ``output_dir/eval``
    (results and metrics json), ``output_dir/result.json`` (the result, NaN as null, plus
    ``train_call_seconds``: the whole ``YOLO.train`` call with set-up and validation, and the
    torch ``threads``). On CPU Ultralytics loads data in the main process whatever ``workers``
    says.
    """
    _import_ultralytics()
    from ultralytics import YOLO

    output_dir = os.path.abspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    max_det = _detection_budget(preset)
    threads = torch.get_num_threads()
    data = export_yolo_dataset(train_name, test_name, output_dir)

    with _offline_and_isolated(threads):
        yolo = YOLO(f"{model}.yaml", task="detect")  # architecture only, random weights
        _keep_threads(yolo, threads)
        timer = _epoch_timer(yolo)
        start = time.perf_counter()
        # val=False: no validation before the last epoch, so the kept weights are the last
        # epoch's (Ultralytics still validates once at the end; nothing is selected by it).
        yolo.train(
            data=data["data_yaml"], epochs=epochs, batch=batch, imgsz=image_size, device="cpu",
            workers=workers, seed=seed, deterministic=True, pretrained=False, amp=False,
            val=False, plots=False, cache=False, close_mosaic=_CLOSE_MOSAIC, project=output_dir,
            name="train", exist_ok=True, verbose=False,
        )  # fmt: skip
        train_call_seconds = time.perf_counter() - start
        last = os.path.join(yolo.trainer.save_dir, "weights", "last.pt")

        peer = YOLO(last, task="detect")
        _keep_threads(peer, threads)
        # Costs on the unfused network (prnet's models are not fused either); prediction below
        # fuses Conv+BN inside ``peer``, so take the copy first.
        net = copy.deepcopy(peer.model).float().eval()
        for p in net.parameters():
            p.requires_grad_(False)
        params = count_parameters(net)["total"]
        gflops = _conv_gflops(net, latency_size)
        metrics = _score(
            peer, test_name, preset, test_image_size, max_det, os.path.join(output_dir, "eval")
        )
        torch.set_num_threads(threads)
        latency = _latency_ms(net, latency_size, max_det)

    result = {
        "name": model,
        "params": int(params),
        "gflops": float(gflops),
        "latency_ms": float(latency),
        "metrics": metrics,
        "train_seconds": float(timer["seconds"]),
        "recipe": recipe(epochs),
    }
    saved = dict(result, train_call_seconds=train_call_seconds, threads=threads)
    saved["metrics"] = {k: None if math.isnan(v) else v for k, v in metrics.items()}
    with open(os.path.join(output_dir, "result.json"), "w", encoding="utf-8") as f:
        json.dump(saved, f, indent=2)
    return result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="tools/ultralytics_peer.py", description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--model", default="yolo11n", help="Ultralytics model yaml stem")
    parser.add_argument("--train", required=True, help="registered training dataset")
    parser.add_argument("--test", required=True, help="registered test dataset")
    parser.add_argument("--image-size", type=int, default=640)
    parser.add_argument("--test-image-size", type=int, default=640)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--preset", default="coco", help="evaluation preset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency-size", type=int, default=640)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output-dir", required=True)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    result = train_and_evaluate(
        args.model, args.train, args.test, image_size=args.image_size,
        test_image_size=args.test_image_size, epochs=args.epochs, batch=args.batch,
        output_dir=args.output_dir, preset=args.preset, seed=args.seed,
        latency_size=args.latency_size, workers=args.workers,
    )  # fmt: skip
    print(json.dumps(result, indent=2))
    return result
