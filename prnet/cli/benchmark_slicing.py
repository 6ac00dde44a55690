"""prnet's sliced prediction against SAHI's ``get_sliced_prediction`` on one exported model, one
frame and the same tiles: wall time and detection agreement, written as JSON.

    python tools/export_model.py --config-file configs/demo/prnet_n_synthetic.py \
        --weights output/demo/prnet_n_synthetic/model_final.pth --output out/prnet_n_raw.onnx
    python tools/benchmark_slicing.py --model out/prnet_n_raw.onnx --frame-size 2160 3840 \
        --tile 640 --overlap 0.2 --score-thresh 0.25 --output output/benchmark/slicing.json

Without ``--image`` the frame is a built-in synthetic aerial scene of ``--frame-size``. Export
without ``--nms``: the score threshold then applies before NMS, the same rule for both.
"""
from __future__ import annotations

import argparse

from detectron2.utils.logger import setup_logger

from prnet.cli.errors import exits_on_user_error
from prnet.data.image_io import read_image_rgb
from prnet.experiments.slicing_benchmark import SAHI_POSTPROCESS, benchmark_slicing, synthetic_frame

__all__ = ["get_parser", "main"]


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/benchmark_slicing.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--model", required=True, help="exported file (ONNX, TorchScript, OpenVINO...)")
    p.add_argument("--image", help="frame to slice (default: a synthetic scene)")
    p.add_argument("--frame-size", type=int, nargs=2, default=(2160, 3840), metavar=("H", "W"))
    p.add_argument("--tile", type=int, default=640)
    p.add_argument("--overlap", type=float, default=0.2)
    p.add_argument("--score-thresh", type=float, default=0.25)
    p.add_argument("--merge", choices=sorted(SAHI_POSTPROCESS), default="greedy")
    p.add_argument("--tile-batch", type=int, default=8, help="tiles per backend call (prnet)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--output", help="JSON report")
    return p


@exits_on_user_error
def main(argv=None) -> dict:
    args = get_parser().parse_args(argv)
    setup_logger(name="prnet")
    frame = read_image_rgb(args.image) if args.image else synthetic_frame(*args.frame_size)
    report = benchmark_slicing(
        args.model, frame, tile=args.tile, overlap=args.overlap, score_thresh=args.score_thresh,
        merge=args.merge, tile_batch=args.tile_batch, repeats=args.repeats, output=args.output,
    )  # fmt: skip
    d = report["detections"]
    print(f"prnet {report['prnet']['median_s']:.2f} s, SAHI {report['sahi']['median_s']:.2f} s "
          f"({report['speedup']:.2f}x); {d['matched']} of {d['count_a']} / {d['count_b']} "
          f"detections matched at IoU >= {report['match_iou']}")  # fmt: skip
    return report
