#!/usr/bin/env python
"""Convert UAVDT-DET ground truth to the per-frame COCO json files prnet registers.

    python datasets/prepare_uavdt.py --root $DETECTRON2_DATASETS/UAVDT

Reads frames from ``<root>/UAV-benchmark-M/Mxxxx/img*.jpg`` and ground truth from
``<root>/UAV-benchmark-MOTD_v1.0/GT/Mxxxx_gt_{whole,ignore}.txt`` and writes
``<root>/prnet_annotations/uavdt_{train,test}.json`` plus ``.report.json`` files. The test split is
the commonly used list of 20 sequences (``UAVDT_TEST_SEQUENCES``); every other sequence is train.
See datasets/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from prnet.data.converters import (
    UAVDT_FRAME_SIZE,
    UAVDT_TEST_SEQUENCES,
    ConversionError,
    convert_uavdt,
    discover_uavdt_sequences,
    read_sequence_list,
    split_uavdt_sequences,
    save_converted,
)
from prnet.data.datasets.builtin import AERIAL_SPLITS

_DEFAULT_SIZE = f"{UAVDT_FRAME_SIZE[0]}x{UAVDT_FRAME_SIZE[1]}"


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT such as {_DEFAULT_SIZE}, got {text!r}"
        )
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return width, height


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, type=Path, help="the UAVDT folder")
    parser.add_argument(
        "--images", type=Path, help="frames folder (default <root>/UAV-benchmark-M)"
    )
    parser.add_argument(
        "--gt",
        type=Path,
        help="folder with Mxxxx_gt_whole.txt / Mxxxx_gt_ignore.txt "
        "(default <root>/UAV-benchmark-MOTD_v1.0/GT, else <root>/GT)",
    )
    parser.add_argument(
        "--test-sequences",
        type=Path,
        help="text file listing the test sequences (default: the common 20-sequence split)",
    )
    parser.add_argument(
        "--assume-size",
        type=_size,
        nargs="?",
        const=_DEFAULT_SIZE,
        help=f"convert without frames, giving every frame this size (flag alone: {_DEFAULT_SIZE});"
        " frames without ground-truth rows are then left out",
    )
    parser.add_argument(
        "--out-dir", type=Path, help="output folder (default: <root>/prnet_annotations)"
    )
    parser.add_argument("--strict", action="store_true", help="fail on the first repaired issue")
    parser.add_argument("--max-examples", type=int, default=5, help="example locations per issue")
    args = parser.parse_args(argv)
    if isinstance(args.assume_size, str):  # argparse does not run `type` on `const`
        args.assume_size = _size(args.assume_size)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    images = args.images or args.root / "UAV-benchmark-M"
    gt = args.gt
    if gt is None:
        candidates = [args.root / "UAV-benchmark-MOTD_v1.0" / "GT", args.root / "GT"]
        gt = next((c for c in candidates if c.is_dir()), candidates[0])
    try:
        test = (
            read_sequence_list(args.test_sequences) if args.test_sequences else UAVDT_TEST_SEQUENCES
        )
        available = discover_uavdt_sequences(gt)
        if not available:
            raise ConversionError("no Mxxxx_gt_whole.txt files", gt)
        splits = split_uavdt_sequences(available, test)
        print(
            f"{len(available)} sequences: {len(splits['train'])} train, {len(splits['test'])} test"
        )
        for split, sequences in splits.items():
            target = Path(AERIAL_SPLITS[f"uavdt_{split}"].json_file)
            out = (args.out_dir / target.name) if args.out_dir else args.root / target
            if not sequences:
                print(f"note: no {split} sequence, {out} not written")
                continue
            coco, report = convert_uavdt(
                images,
                gt,
                sequences,
                assume_size=args.assume_size,
                strict=args.strict,
                max_examples=args.max_examples,
                progress=tqdm,
            )
            save_converted(coco, out, report)
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
