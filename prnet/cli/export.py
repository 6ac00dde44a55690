"""Export a PRNet LazyConfig model to TorchScript, ONNX, OpenVINO IR (FP32/FP16/INT8) or a TensorRT
engine, check it against eager PyTorch at a second size, and optionally evaluate the exported file
with an evaluator preset.

``tools/export_model.py`` is its command line. Examples::

    python tools/export_model.py --config-file configs/PRNet/prnet_s.py --weights model_final.pth \
        --format onnx --output out/prnet_s.onnx --nms --trace-size 640 640
    python tools/export_model.py --config-file configs/PRNet/prnet_s.py --weights model_final.pth \
        --format tensorrt --precision int8 --calib-dataset visdrone2019_train --output out/prnet_s.engine
    python tools/export_model.py --config-file configs/PRNet/prnet_s.py --weights model_final.pth \
        --format openvino --precision int8 --calib-dataset visdrone2019_train --output out/prnet_s.xml
    # evaluate an exported file (same presets as training-time evaluation)
    python tools/export_model.py --exported out/prnet_s.onnx --eval visdrone2019_val --preset visdrone
    python tools/export_model.py ... model.num_classes=7        # key=value config overrides

Outputs and their order are documented in prnet/export/graph.py and in the ``<file>.json`` sidecar.
"""
from __future__ import annotations

import argparse
import os

from prnet.cli.errors import exits_on_user_error

__all__ = ["get_parser", "main"]

#: prnet.export.EXPORT_FORMATS, here so that --help needs no torch (a test keeps them equal)
EXPORT_FORMATS = ("torchscript", "onnx", "openvino", "tensorrt")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/export_model.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--config-file", help="LazyConfig file (default: the one stored in --weights)")
    p.add_argument("--weights", help="checkpoint (Detectron2 checkpointer; EMA weights preferred)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="onnx")
    p.add_argument("--output", help="exported file (default: output/export/<config>.<ext>)")
    p.add_argument("--nms", action="store_true", help="put NMS in the graph (padded outputs)")
    p.add_argument("--trace-size", type=int, nargs=2, default=(640, 640), metavar=("H", "W"))
    p.add_argument("--batch", type=int, default=1, help="batch size of the tracing input")
    p.add_argument("--verify-size", type=int, nargs=2, default=(480, 352), metavar=("H", "W"),
                   help="second size checked against eager PyTorch (batch 2)")
    p.add_argument("--no-verify", action="store_true")
    p.add_argument("--max-det", type=int, help="NMS graph: detections per image")
    p.add_argument("--score-thresh", type=float, help="NMS graph: score threshold")
    p.add_argument("--nms-thresh", type=float, help="NMS graph: IoU threshold")
    p.add_argument("--topk", type=int, help="NMS graph: candidates before NMS (TensorRT <= 3840)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--device", default="cpu", help="device to trace on (cuda for TensorRT)")
    q = p.add_argument_group("precision (OpenVINO and TensorRT)")
    q.add_argument("--precision", choices=("fp32", "fp16", "int8"),
                   help="default: fp16 for TensorRT, fp32 for OpenVINO")  # fmt: skip
    q.add_argument("--calib-dataset", help="registered dataset for INT8 calibration")
    q.add_argument("--calib-images", type=int, default=64)
    trt = p.add_argument_group("TensorRT")
    trt.add_argument("--min-shape", type=int, nargs=4, default=(1, 3, 320, 320))
    trt.add_argument("--opt-shape", type=int, nargs=4, default=(1, 3, 640, 640))
    trt.add_argument("--max-shape", type=int, nargs=4, default=(8, 3, 1280, 1280))
    trt.add_argument("--calib-cache", help="INT8 calibration cache file (read/write)")
    ev = p.add_argument_group("evaluation of the exported file")
    ev.add_argument("--exported", help="evaluate this exported file instead of exporting")
    ev.add_argument("--eval", metavar="DATASET", help="registered dataset to evaluate on")
    ev.add_argument("--preset", default="coco", help="evaluator preset (coco, aitod, visdrone, uavdt)")
    ev.add_argument("--image-size", type=int,
                    help="test long side (default: the model's test size, else 640)")  # fmt: skip
    ev.add_argument("--batch-size", type=int, default=8)
    ev.add_argument("--limit", type=int, help="evaluate the first N images only")
    ev.add_argument("--eval-output", help="directory for results json and metrics.json")
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="key=value config overrides")
    return p


@exits_on_user_error
def main(argv=None) -> dict:
    args = get_parser().parse_args(argv)
    from detectron2.utils.logger import setup_logger

    from prnet.export import (
        FORMAT_SUFFIX,
        OpenVINOUnavailable,
        TensorRTUnavailable,
        export_model,
        load_exported,
    )
    from prnet.evaluation import report_to_json
    from prnet.inference import Predictor, evaluate_predictor
    from prnet.inference.predictor import MODEL_SIZE
    from prnet.modeling.build import build_model

    logger = setup_logger(name="prnet")
    result = {}
    path = args.exported
    if path is None:
        if not args.config_file and not args.weights:
            raise SystemExit("--config-file or --weights (carrying its config) is required to "
                             "export (or pass --exported FILE)")  # fmt: skip
        if not args.weights:
            logger.warning("no --weights: exporting the model at its initialisation")
        ext = FORMAT_SUFFIX[args.format]
        stem = os.path.splitext(os.path.basename(args.config_file or args.weights))[0]
        path = args.output or os.path.join("output", "export", stem + ext)
        try:
            model = build_model(args.config_file, args.weights, args.opts, device=args.device)
            backend_kwargs = {}
            if args.format in ("openvino", "tensorrt"):
                precision = args.precision or ("fp16" if args.format == "tensorrt" else "fp32")
                backend_kwargs = dict(precision=precision, calib_dataset=args.calib_dataset,
                                      calib_images=args.calib_images)  # fmt: skip
            if args.format == "tensorrt":
                backend_kwargs.update(min_shape=args.min_shape, opt_shape=args.opt_shape,
                                      max_shape=args.max_shape, calib_cache=args.calib_cache)  # fmt: skip
            export_model(
                model, args.format, path, with_nms=args.nms,
                trace_size=(args.batch, *args.trace_size),
                verify_size=None if args.no_verify else (2, *args.verify_size),
                max_det=args.max_det, score_thresh=args.score_thresh, nms_thresh=args.nms_thresh,
                topk=args.topk, opset=args.opset, **backend_kwargs,
            )
        except (TensorRTUnavailable, OpenVINOUnavailable) as e:
            raise SystemExit(f"cannot export to {args.format} here: {e}") from e
        logger.info("exported %s (sidecar %s.json)", path, path)
        result["exported"] = path
    if args.eval:
        backend = load_exported(path)
        size = MODEL_SIZE if args.image_size is None else args.image_size
        predictor = Predictor(backend, size, args.batch_size)
        metrics = evaluate_predictor(
            predictor, args.eval, args.preset, output_dir=args.eval_output, limit=args.limit
        )
        print(report_to_json(metrics))
        result["metrics"] = metrics
    return result
