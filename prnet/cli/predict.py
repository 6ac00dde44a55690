r"""Predict with PRNet (eager or exported) on images, folders and videos; write COCO results JSON
and pictures with the boxes drawn. ``--slice`` tiles large images; ``--eval`` scores a registered
dataset with an evaluator preset (sliced or not).

``tools/predict.py`` is its command line. Examples::

    python tools/predict.py --config-file configs/PRNet/prnet_s.py --weights model_final.pth \
        --input images/ drone.mp4 --output out/predict
    python tools/predict.py --weights model_final.pth --input images/   # config, classes, size
                                                                        # from the checkpoint
    python tools/predict.py --exported out/prnet_s.onnx --input big_frame.jpg --slice --tile-size 640 \
        --overlap 0.2 --merge greedy --output out/sliced
    python tools/predict.py --exported out/prnet_s.onnx --slice --eval visdrone2019_val --preset visdrone

Results: ``<output>/results.json`` (COCO results: integer ``image_id`` 1, 2, ... in prediction
order, ``category_id`` contiguous 0..K-1 unless ``--dataset-meta`` maps them to dataset ids;
boxes are labelled with the model's class names, from its checkpoint or exported file),
``<output>/images.json`` (each integer id's readable name, file, video frame and size) and drawn
pictures in ``<output>/vis/`` (videos at the source's frame rate over ``--video-stride``).
Readable names are unique in a run and do not depend on the input order: the file stem (``a`` for ``a.jpg``), the file name when
stems clash (``a.jpg`` and ``a.png`` in one folder), the path relative to the inputs' common folder
when names clash too (``day1/a.jpg``, ``day2/a.jpg``); video frames are ``<video id>_<frame:06d>``.
Pictures are ``vis/<image id>.jpg`` and ``vis/<video id>.mp4``, drawn at most ``--vis-max-size``
px on the long side, boxes scaled (default 3072; ``0``: full size). Drawing costs ~120 bytes per
drawn pixel: 1.1 GB at 3072 px, 2 GB at 4096 px, 13 GB for a 10000 px frame at full size.

Unreadable inputs (truncated or corrupt images, videos that cannot be opened or decoded) are
logged, skipped and listed with the reason in ``<output>/skipped.json`` and the closing summary
(``N images predicted, K unreadable: ...``; video frames count as images). Exit status: 0 when at
least one image was predicted; 1 when none could be read (both JSON files are still written) or
on a usage error (missing input path, no image or video found).
"""
from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING

from prnet.cli.errors import exits_on_user_error

if TYPE_CHECKING:  # torch and Detectron2 load only once a command runs
    from prnet.inference import Predictor, SlicedPredictor

__all__ = ["get_parser", "main", "make_predictor"]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/predict.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--input", nargs="+", default=[], help="image files, folders, video files")
    src = p.add_argument_group("model (weights with or without a config, or an exported file)")
    src.add_argument("--config-file", help="default: the config stored in --weights")
    src.add_argument("--weights")
    src.add_argument("--exported", help="TorchScript/ONNX/TensorRT file from tools/export_model.py")
    src.add_argument("--device", default="cpu")
    p.add_argument("--output", default="output/predict")
    p.add_argument("--image-size", type=int,
                   help="long side fed to the model (default: the model's test size, else 640)")  # fmt: skip
    p.add_argument("--batch-size", type=_positive, default=8, help="images (tiles) per model call")
    p.add_argument("--score-thresh", type=float, help="detection score threshold (raw graphs)")
    p.add_argument("--max-det", type=int, help="detections per image")
    p.add_argument("--vis-thresh", type=float, default=0.25, help="draw boxes above this score")
    p.add_argument("--no-vis", action="store_true", help="do not write pictures")
    p.add_argument("--vis-style", choices=("labels", "thin"), default="labels",
                   help="labels: Detectron2's name+score boxes; thin: 1-px boxes in class colours "
                        "with thin names (nothing covers a 10-px object)")  # fmt: skip
    p.add_argument("--vis-max-size", type=int, default=3072,
                   help="draw pictures at most this long side, boxes scaled (0: full size)")  # fmt: skip
    p.add_argument("--video-stride", type=_positive, default=1, help="predict every n-th frame")
    p.add_argument("--dataset-meta", help="registered dataset for class names and category ids")
    sl = p.add_argument_group("sliced prediction")
    sl.add_argument("--slice", action="store_true")
    sl.add_argument("--tile-size", type=int, default=640)
    sl.add_argument("--overlap", type=float, default=0.2)
    sl.add_argument("--no-full-image", action="store_true", help="tiles only")
    sl.add_argument("--merge", choices=("greedy", "nms"), default="greedy")
    sl.add_argument("--merge-thresh", type=float, default=0.5)
    sl.add_argument("--match-metric", choices=("ios", "iou"), default="ios")
    ev = p.add_argument_group("evaluation")
    ev.add_argument("--eval", metavar="DATASET", help="predict a registered dataset and score it")
    ev.add_argument("--preset", default="coco")
    ev.add_argument("--limit", type=int, help="first N images only")
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="key=value config overrides")
    return p


def make_predictor(args) -> Predictor | SlicedPredictor:
    from detectron2.utils.logger import setup_logger

    from prnet.export import EagerBackend, load_exported
    from prnet.inference import Predictor, SlicedPredictor
    from prnet.inference.predictor import MODEL_SIZE
    from prnet.modeling.build import build_model

    if args.exported:
        backend = load_exported(args.exported, device=args.device if args.device != "cpu" else None)
    elif args.config_file or args.weights:
        if not args.weights:
            setup_logger(name="prnet").warning("no --weights: predicting with initial weights")
        backend = EagerBackend(build_model(args.config_file, args.weights, args.opts, args.device))
    else:
        raise SystemExit("pass --weights (and --config-file for checkpoints without one) or --exported")
    image_size = MODEL_SIZE if args.image_size is None else args.image_size
    predictor = Predictor(
        backend, image_size, args.batch_size, score_thresh=args.score_thresh,
        max_det=args.max_det,
    )
    if not args.slice:
        return predictor
    return SlicedPredictor(
        predictor, args.tile_size, args.overlap, full_image=not args.no_full_image,
        merge=args.merge, merge_thresh=args.merge_thresh, match_metric=args.match_metric,
        tile_batch=args.batch_size,
    )


@exits_on_user_error
def main(argv=None) -> dict:
    args = get_parser().parse_args(argv)
    import cv2
    from detectron2.data import MetadataCatalog
    from detectron2.utils.logger import setup_logger
    from tqdm import tqdm

    from prnet.evaluation import report_to_json
    from prnet.inference import SlicedPredictor, evaluate_predictor
    from prnet.inference.sources import (
        count_frames,
        draw_instances,
        expand_sources,
        image_ids,
        instances_to_results,
        is_image,
        iter_sources,
    )

    logger = setup_logger(name="prnet")
    if not args.eval:
        if not args.input:
            raise SystemExit("nothing to predict: pass images, folders, videos (or --eval DATASET)")
        try:
            files = expand_sources(args.input)
        except (OSError, ValueError) as e:
            raise SystemExit(f"--input: {e}") from None
        if not files:
            raise SystemExit(f"nothing to predict: no image or video file in {args.input}")
    predictor = make_predictor(args)
    if args.eval:
        metrics = evaluate_predictor(predictor, args.eval, args.preset, output_dir=args.output, limit=args.limit)
        print(report_to_json(metrics))
        return {"metrics": metrics}

    base = predictor.predictor if isinstance(predictor, SlicedPredictor) else predictor
    class_names, category_ids = base.class_names, None  # the model's own, when it knows them
    if args.dataset_meta:
        meta = MetadataCatalog.get(args.dataset_meta)
        class_names = meta.get("thing_classes") or class_names
        id_map = meta.get("thing_dataset_id_to_contiguous_id")
        category_ids = {v: k for k, v in id_map.items()} if id_map else None
    ids = image_ids(files)
    vis_dir = os.path.join(args.output, "vis")
    os.makedirs(vis_dir, exist_ok=True)
    results, writers, skipped, images = [], {}, [], []
    sliced = isinstance(predictor, SlicedPredictor)
    step = 1 if sliced else predictor.batch_size
    total = count_frames(files) if args.video_stride == 1 else None
    bar = tqdm(total=total, unit="img", desc="predict", disable=total == 1)

    def unreadable(path: str, reason: str):
        logger.warning(f"skipped {path}: {reason}")
        skipped.append({"file": path, "reason": reason})
        bar.update(int(is_image(path)))  # an unreadable video counts no frame in the total

    def draw(frame, instances):
        rgb = draw_instances(
            frame.image, instances, class_names, args.vis_thresh, args.vis_max_size, args.vis_style
        )
        drawn = rgb[:, :, ::-1]  # BGR for OpenCV
        name = os.path.join(vis_dir, ids[frame.source])
        os.makedirs(os.path.dirname(name), exist_ok=True)  # ids may be relative paths
        if is_image(frame.source):
            if not cv2.imwrite(name + ".jpg", drawn):
                raise OSError(f"{name}.jpg: could not write the picture")
            return
        if frame.source not in writers:
            h, w = drawn.shape[:2]
            # the source's frame rate (25 when the container does not say), over the stride
            fps = (frame.fps or 25.0) / args.video_stride
            writer = cv2.VideoWriter(name + ".mp4", cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            if not writer.isOpened():
                raise OSError(f"{name}.mp4: could not open a video writer")
            writers[frame.source] = writer
        writers[frame.source].write(drawn)

    def flush(batch):
        outs = [predictor(f.image) for f in batch] if sliced else predictor([f.image for f in batch])
        for f, inst in zip(batch, outs):
            # COCO tools (pycocotools, SAHI) need integer ids: 1, 2, ... in prediction order;
            # images.json maps them to the readable ids and files
            number = len(images) + 1
            images.append({"id": number, "name": f.image_id, "file_name": f.source,
                           "frame": f.index, "height": f.image.shape[0], "width": f.image.shape[1]})  # fmt: skip
            results.extend(instances_to_results(inst, number, category_ids))
            if not args.no_vis:
                draw(f, inst)
        bar.update(len(batch))
        return len(batch)

    predicted, batch = 0, []
    for frame in iter_sources(files, args.video_stride, on_unreadable=unreadable):
        batch.append(frame)
        if len(batch) == step:
            predicted += flush(batch)
            batch = []
    if batch:
        predicted += flush(batch)
    bar.close()
    for w in writers.values():
        w.release()
    out_json = os.path.join(args.output, "results.json")
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(results, f)
    with open(os.path.join(args.output, "images.json"), "w", encoding="utf-8") as f:
        json.dump(images, f, indent=1)
    skipped_json = os.path.join(args.output, "skipped.json")
    with open(skipped_json, "w", encoding="utf-8") as f:
        json.dump(skipped, f, indent=1)
    summary = f"{predicted} images predicted, {len(skipped)} unreadable"
    if skipped:
        listed = "; ".join(f"{s['file']}: {s['reason']}" for s in skipped[:5])
        summary += f": {listed}{'; ...' if len(skipped) > 5 else ''} (list in {skipped_json})"
    print(summary)
    print(f"{len(results)} detections -> {out_json}")
    if not predicted:
        raise SystemExit(f"no input could be read ({len(skipped)} unreadable, see {skipped_json})")
    return {
        "results": out_json,
        "num_detections": len(results),
        "num_images": predicted,
        "skipped": skipped,
        "skipped_json": skipped_json,
    }
