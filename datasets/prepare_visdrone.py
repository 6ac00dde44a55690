#!/usr/bin/env python
"""Convert VisDrone2019-DET annotations to the COCO json files prnet registers.

    python datasets/prepare_visdrone.py --root $DETECTRON2_DATASETS/VisDrone

Reads ``<root>/VisDrone2019-DET-<split>/{images,annotations}`` and writes
``<root>/prnet_annotations/visdrone2019_<split>.json`` plus ``.report.json`` next to it (counts of
everything clipped, skipped or dropped). See datasets/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from prnet.data.converters import (
    VISDRONE_SPLITS,
    ConversionError,
    convert_visdrone_split,
    save_converted,
)
from prnet.data.datasets.builtin import AERIAL_SPLITS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, type=Path, help="the VisDrone folder")
    parser.add_argument(
        "--splits",
        nargs="+",
        choices=list(VISDRONE_SPLITS),
        help="splits to convert (default: every split folder present)",
    )
    parser.add_argument(
        "--out-dir", type=Path, help="output folder (default: <root>/prnet_annotations)"
    )
    parser.add_argument("--strict", action="store_true", help="fail on the first repaired issue")
    parser.add_argument("--max-examples", type=int, default=5, help="example locations per issue")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    splits = args.splits
    if splits is None:
        splits = [s for s, folder in VISDRONE_SPLITS.items() if (args.root / folder).is_dir()]
        for s in sorted(set(VISDRONE_SPLITS) - set(splits)):
            print(f"note: {args.root / VISDRONE_SPLITS[s]} not found, split {s} skipped")
        if not splits:
            print(f"error: no VisDrone2019-DET-* folder in {args.root}", file=sys.stderr)
            return 2
    for split in splits:
        target = Path(AERIAL_SPLITS[f"visdrone2019_{split}"].json_file)
        out = (args.out_dir / target.name) if args.out_dir else args.root / target
        try:
            coco, report = convert_visdrone_split(
                args.root, split, strict=args.strict, max_examples=args.max_examples, progress=tqdm
            )
        except ConversionError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        save_converted(coco, out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
