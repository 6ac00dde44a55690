"""The accuracy cost of INT8 on CPU: quantise an exported float32 ONNX file with OpenVINO + NNCF and
with ONNX Runtime (static QDQ), score every file on one dataset, write a JSON report and a table.

    python tools/int8_accuracy.py --onnx output/demo/prnet_n_synthetic/export/prnet_n_synthetic.onnx \
        --eval synthetic_aerial_val --preset synthetic --image-size 320 \
        --calib-dataset synthetic_aerial_demo_train --output output/int8_accuracy

Calibrate on a training split: images of the test set would flatter INT8.
"""
from __future__ import annotations

import argparse

from detectron2.utils.logger import setup_logger

from prnet.cli.errors import exits_on_user_error
from prnet.experiments.int8_accuracy import format_table, int8_accuracy

__all__ = ["get_parser", "main"]


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/int8_accuracy.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--onnx", required=True, help="float32 ONNX file exported by prnet (with sidecar)")
    p.add_argument("--eval", required=True, metavar="DATASET", help="registered dataset to score")
    p.add_argument("--preset", default="coco", help="evaluator preset")
    p.add_argument("--image-size", type=int, default=640, help="test long side")
    p.add_argument("--calib-dataset", required=True, help="registered dataset for calibration")
    p.add_argument("--calib-images", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--limit", type=int, help="score the first N images only")
    p.add_argument("--output", default="output/int8_accuracy", help="directory for files and report")
    return p


@exits_on_user_error
def main(argv=None) -> dict:
    args = get_parser().parse_args(argv)
    setup_logger(name="prnet")
    report = int8_accuracy(
        args.onnx, args.eval, args.calib_dataset, args.output, preset=args.preset,
        image_size=args.image_size, calib_images=args.calib_images, batch_size=args.batch_size,
        limit=args.limit,
    )  # fmt: skip
    print(format_table(report))
    return report
