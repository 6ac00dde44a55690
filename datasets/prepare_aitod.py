#!/usr/bin/env python
"""Validate AI-TOD (v1/v2) json files and write the normalised copies prnet registers.

    python datasets/prepare_aitod.py --root $DETECTRON2_DATASETS/AI-TOD --version v1

Reads ``<root>/annotations/<official json>`` and ``<root>/images/<split>/*.png`` and writes
``<root>/prnet_annotations/aitod_<version>_<split>.json`` plus ``.report.json`` files.
See datasets/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from prnet.data.converters import (
    AITOD_SOURCE_JSON,
    AITOD_SPLITS,
    ConversionError,
    convert_aitod,
    find_aitod_source_json,
    save_converted,
)
from prnet.data.datasets.builtin import AERIAL_SPLITS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, type=Path, help="the AI-TOD folder")
    parser.add_argument(
        "--version", nargs="+", choices=list(AITOD_SOURCE_JSON), default=["v1"], help="default v1"
    )
    parser.add_argument(
        "--splits",
        nargs="+",
        choices=list(AITOD_SPLITS),
        help="splits to convert (default: every split whose official json is present)",
    )
    parser.add_argument(
        "--annotations", type=Path, help="official json folder (default <root>/annotations)"
    )
    parser.add_argument(
        "--no-check-images",
        action="store_true",
        help="do not open the images (existence, readability and size are then unchecked)",
    )
    parser.add_argument(
        "--out-dir", type=Path, help="output folder (default: <root>/prnet_annotations)"
    )
    parser.add_argument("--strict", action="store_true", help="fail on the first repaired issue")
    parser.add_argument("--max-examples", type=int, default=5, help="example locations per issue")
    return parser.parse_args(argv)


def _jobs(args, annotations: Path) -> list[tuple[str, str, Path]]:
    jobs = []
    for version in args.version:
        for split in args.splits or AITOD_SPLITS:
            try:
                jobs.append((version, split, find_aitod_source_json(annotations, version, split)))
            except ConversionError as e:
                if args.splits:  # asked for explicitly: must exist
                    raise
                print(f"note: AI-TOD {version} {split} skipped: {e}")
    if not jobs:
        raise ConversionError(f"no AI-TOD {'/'.join(args.version)} json found", annotations)
    return jobs


def main(argv=None) -> int:
    args = parse_args(argv)
    annotations = args.annotations or args.root / "annotations"
    try:
        if not annotations.is_dir():
            raise ConversionError("annotations folder not found", annotations)
        for version, split, source in _jobs(args, annotations):
            name = f"aitod_{version}_{split}"
            target = Path(AERIAL_SPLITS[name].json_file)
            out = (args.out_dir / target.name) if args.out_dir else args.root / target
            coco, report = convert_aitod(
                source,
                args.root / AERIAL_SPLITS[name].image_root,
                check_images=not args.no_check_images,
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
