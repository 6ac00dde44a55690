"""Cut a registered dataset into overlapping tiles at native resolution, written as a new COCO
dataset (docs/native_resolution.md), so training sees objects at the scale sliced inference does.

    python tools/slice_dataset.py visdrone2019_train --output datasets/VisDrone/tiles_640 \\
        --tile-size 640 --overlap 0.2 --keep-empty 0.1
    python tools/slice_dataset.py my_set --coco-json ann.json --image-root images --output tiles

The tiles are ``<output>/images/*``, the annotations ``<output>/<name>.json`` (default name
``<dataset>_tiles``); register them again in another process with
``prnet.data.register_sliced_dataset("<output>/<name>.json")``.
"""
from __future__ import annotations

import argparse

__all__ = ["get_parser", "main"]


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/slice_dataset.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("dataset", help="registered dataset name (built-in, or with --coco-json)")
    p.add_argument("--output", required=True, help="folder for images/ and the json")
    p.add_argument("--name", help="name of the new dataset (default: <dataset>_tiles)")
    p.add_argument("--tile-size", type=int, default=640, help="tile side in pixels")
    p.add_argument("--overlap", type=float, default=0.2, help="fraction shared by neighbour tiles")
    p.add_argument("--keep-empty", type=_fraction, default=1.0,
                   help="fraction of tiles without objects kept (drawn with --seed)")  # fmt: skip
    p.add_argument("--image-format", choices=("jpg", "png"), help="default: the source's")
    p.add_argument("--min-size", type=float, default=2.0, help="min side of a cut box, px")
    p.add_argument("--min-visible", type=_fraction, default=0.1,
                   help="min fraction of a cut box's area inside the tile")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    src = p.add_argument_group("an unregistered COCO dataset (ignore regions kept)")
    src.add_argument("--coco-json", help="register DATASET from this COCO json first")
    src.add_argument("--image-root", help="folder the json's file names are relative to")
    return p


def main(argv=None) -> str:
    args = get_parser().parse_args(argv)
    if bool(args.coco_json) != bool(args.image_root):
        raise SystemExit("error: --coco-json and --image-root go together")
    from prnet.cli.errors import exits_on_user_error

    return exits_on_user_error(_run)(args)


def _run(args) -> str:
    from detectron2.data import DatasetCatalog
    from detectron2.utils.logger import setup_logger

    import prnet.data  # registers the built-in datasets
    from prnet.data.tiling import slice_dataset

    setup_logger(name="prnet")
    if args.coco_json:
        prnet.data.register_coco_with_ignore(args.dataset, {}, args.coco_json, args.image_root)
    elif args.dataset not in DatasetCatalog.list():
        known = ", ".join(n for n in DatasetCatalog.list() if not n.startswith(("coco", "lvis")))
        raise SystemExit(
            f"error: dataset {args.dataset!r} is not registered; pass --coco-json and "
            f"--image-root, or one of: {known}"
        )
    name = slice_dataset(
        args.dataset, args.output, args.tile_size, args.overlap, new_name=args.name,
        keep_empty=args.keep_empty, image_format=args.image_format, min_size=args.min_size,
        min_visible=args.min_visible, seed=args.seed,
    )  # fmt: skip
    print(f"registered {name}: train on it with dataloader.train.dataset.names={name} after "
          f"prnet.data.register_sliced_dataset() of its json in {args.output}")  # fmt: skip
    return name
