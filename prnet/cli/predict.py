"""Predict with PRNet (eager or exported) on images, folders and videos; write COCO results JSON
and pictures with the boxes drawn. ``--slice`` tiles large images; ``--eval`` scores a registered
dataset with an evaluator preset (sliced or not).

``tools/predict.py`` is its command line. Examples::

    python tools/predict.py --config-file configs/PRNet/prnet_s.py --weights model_final.pth \
        --input images/ drone.mp4 --output out/predict
    python tools/predict.py --exported out/prnet_s.onnx --input big_frame.jpg --slice --tile-size 640 \
        --overlap 0.2 --merge greedy --output out/sliced
    python tools/predict.py --exported out/prnet_s.onnx --slice --eval visdrone_val --preset visdrone

Results: ``<output>/results.json`` (``image_id`` = file stem, or ``<stem>_<frame>`` for videos;
``category_id`` contiguous 0..K-1 unless ``--dataset-meta`` maps them to dataset ids), drawn
pictures in ``<output>/vis/`` (videos as ``<stem>.mp4``).
"""
from __future__ import annotations

import argparse
import json
import os

import cv2
from detectron2.data import MetadataCatalog
from detectron2.utils.logger import setup_logger
from tqdm import tqdm

from prnet.export import EagerBackend, load_exported
from prnet.inference import Predictor, SlicedPredictor, evaluate_predictor
from prnet.inference.sources import (
    count_frames,
    draw_instances,
    expand_sources,
    instances_to_results,
    is_image,
    iter_sources,
)
from prnet.modeling.build import build_model

__all__ = ["get_parser", "main", "make_predictor"]


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/predict.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--input", nargs="+", default=[], help="image files, folders, video files")
    src = p.add_argument_group("model (a config, or an exported file)")
    src.add_argument("--config-file")
    src.add_argument("--weights")
    src.add_argument("--exported", help="TorchScript/ONNX/TensorRT file from tools/export_model.py")
    src.add_argument("--device", default="cpu")
    p.add_argument("--output", default="output/predict")
    p.add_argument("--image-size", type=int, default=640, help="long side fed to the model")
    p.add_argument("--batch-size", type=int, default=8, help="images (or tiles) per model call")
    p.add_argument("--score-thresh", type=float, help="detection score threshold (raw graphs)")
    p.add_argument("--max-det", type=int, help="detections per image")
    p.add_argument("--vis-thresh", type=float, default=0.25, help="draw boxes above this score")
    p.add_argument("--no-vis", action="store_true", help="do not write pictures")
    p.add_argument("--video-stride", type=int, default=1, help="predict every n-th video frame")
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
    if args.exported:
        backend = load_exported(args.exported, device=args.device if args.device != "cpu" else None)
    elif args.config_file:
        if not args.weights:
            setup_logger(name="prnet").warning("no --weights: predicting with initial weights")
        backend = EagerBackend(build_model(args.config_file, args.weights, args.opts, args.device))
    else:
        raise SystemExit("pass --config-file (and --weights) or --exported")
    predictor = Predictor(
        backend, args.image_size, args.batch_size, score_thresh=args.score_thresh,
        max_det=args.max_det,
    )
    if not args.slice:
        return predictor
    return SlicedPredictor(
        predictor, args.tile_size, args.overlap, full_image=not args.no_full_image,
        merge=args.merge, merge_thresh=args.merge_thresh, match_metric=args.match_metric,
        tile_batch=args.batch_size,
    )


def main(argv=None) -> dict:
    args = get_parser().parse_args(argv)
    setup_logger(name="prnet")
    predictor = make_predictor(args)
    if args.eval:
        metrics = evaluate_predictor(predictor, args.eval, args.preset, output_dir=args.output, limit=args.limit)
        print(json.dumps(metrics, indent=2, default=float))
        return {"metrics": metrics}
    if not args.input:
        raise SystemExit("nothing to predict: pass images, folders or videos (or --eval DATASET)")

    class_names, category_ids = None, None
    if args.dataset_meta:
        meta = MetadataCatalog.get(args.dataset_meta)
        class_names = meta.get("thing_classes")
        id_map = meta.get("thing_dataset_id_to_contiguous_id")
        category_ids = {v: k for k, v in id_map.items()} if id_map else None
    files = expand_sources(args.input)
    vis_dir = os.path.join(args.output, "vis")
    os.makedirs(vis_dir, exist_ok=True)
    results, writers = [], {}
    sliced = isinstance(predictor, SlicedPredictor)
    step = 1 if sliced else predictor.batch_size
    total = count_frames(files) if args.video_stride == 1 else None
    bar = tqdm(total=total, unit="img", desc="predict", disable=total == 1)
    frames = iter_sources(files, args.video_stride)

    def flush(batch):
        outs = [predictor(f.image) for f in batch] if sliced else predictor([f.image for f in batch])
        for f, inst in zip(batch, outs):
            results.extend(instances_to_results(inst, f.image_id, category_ids))
            if not args.no_vis:
                drawn = draw_instances(f.image, inst, class_names, args.vis_thresh)[:, :, ::-1]
                stem = os.path.splitext(os.path.basename(f.source))[0]
                if is_image(f.source):
                    cv2.imwrite(os.path.join(vis_dir, stem + ".jpg"), drawn)
                else:
                    if f.source not in writers:
                        h, w = drawn.shape[:2]
                        fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                        writers[f.source] = cv2.VideoWriter(os.path.join(vis_dir, stem + ".mp4"), fourcc, 25, (w, h))
                    writers[f.source].write(drawn)
        bar.update(len(batch))

    batch = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == step:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    bar.close()
    for w in writers.values():
        w.release()
    out_json = os.path.join(args.output, "results.json")
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(results, f)
    print(f"{len(results)} detections on {len(files)} input(s) -> {out_json}")
    return {"results": out_json, "num_detections": len(results)}
