r"""Evaluate a checkpoint on the config's test set (``dataloader.test`` scored by
``dataloader.evaluator``): the EMA weights when the checkpoint has them, and the raw ones too.
``tools/lazyconfig_train_net.py --eval-only`` is the Detectron2-style equivalent. Examples::

    prnet val --config-file configs/VisDrone/prnet_s_640.py \
        --weights output/VisDrone/prnet_s_640/model_best.pth
    # a checkpoint trained by prnet names its config and overrides: --config-file can be left out
    prnet val --weights output/VisDrone/prnet_s_640/model_best.pth
    # another dataset or preset, on CPU
    prnet val --config-file configs/PRNet/prnet_n.py --weights model_final.pth train.device=cpu \
        dataloader.test.dataset.names=synthetic_aerial_demo_val
    # a partly converted checkpoint: score it anyway (weights that do not fit stay at init)
    prnet val --config-file configs/PRNet/prnet_s.py --weights converted.pth --allow-mismatch

Metrics are printed and written to the evaluator's ``output_dir`` (``metrics.json``).
"""
from __future__ import annotations

import argparse
import os

from prnet.cli.train import add_launch_arguments, launch_main

__all__ = ["get_parser", "main"]


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prnet val", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--config-file", metavar="FILE",
                        help="LazyConfig file the weights were trained with (default: the one the "
                             "checkpoint names, with its overrides)")  # fmt: skip
    parser.add_argument("--weights", metavar="FILE", required=True,
                        help="checkpoint to score (sets train.init_checkpoint)")  # fmt: skip
    parser.add_argument("--allow-mismatch", action="store_true",
                        help="score weights even if some do not fit the model")  # fmt: skip
    add_launch_arguments(parser)
    parser.add_argument("opts", nargs=argparse.REMAINDER, default=[],
                        help="path.key=value config overrides")  # fmt: skip
    parser.set_defaults(eval_only=True, resume=False)
    return parser


def config_from_checkpoint(args: argparse.Namespace) -> argparse.Namespace:
    """Without ``--config-file``: the config file and overrides the checkpoint was trained with
    (its ``prnet_meta``), the command line's overrides after them."""
    if args.config_file:
        return args
    from prnet.checkpoint import read_checkpoint_metadata

    if not os.path.isfile(args.weights):
        raise SystemExit(f"--weights {args.weights}: no such file")
    meta = read_checkpoint_metadata(args.weights) or {}
    config = meta.get("config_file")
    if not config:
        raise SystemExit(f"{args.weights}: the checkpoint does not name its config; pass --config-file")
    if not os.path.isfile(config):
        raise SystemExit(f"{args.weights} was trained with {config}, which is not here; pass --config-file")
    args.config_file = config
    args.opts = [*meta.get("overrides", []), *args.opts]
    return args


def main(argv=None):
    return launch_main(config_from_checkpoint(get_parser().parse_args(argv)))
