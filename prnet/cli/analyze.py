"""Parameters and GFLOPs of any prnet config at a given input size.

    python tools/analyze_model.py --config-file configs/PRNet/prnet_s.py --size 640
    python tools/analyze_model.py --config-file configs/PRNet/prnet_s.py model.backbone.num_prn_layers=2

GFLOPs are 2 x multiply-adds at batch 1 for the dense network (backbone, neck, head); see
``prnet.analysis`` for the three conventions printed ("conv" is the paper's).
"""
from __future__ import annotations

import argparse
import json

from prnet.cli.errors import exits_on_user_error

__all__ = ["analyze", "get_parser", "main", "parse_args"]


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tools/analyze_model.py", description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--config-file", required=True, help="LazyConfig file with a `model`")
    parser.add_argument("--size", nargs="+", default=["640"], help="H [W] of the input")
    parser.add_argument("--output", help="also write the result as JSON here")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="key=value config overrides")
    return parser


def parse_args(argv=None):
    parser = get_parser()
    args = parser.parse_args(argv)
    # "--size 640 key=value": nargs="+" swallows the overrides too; hand them back to opts
    args.opts = [s for s in args.size if "=" in s] + args.opts
    args.size = [int(s) for s in args.size if "=" not in s]
    if not 1 <= len(args.size) <= 2:
        parser.error(f"--size takes H [W], got {args.size}")
    return args


def analyze(config_file: str, height: int, width: int, overrides=()) -> dict:
    from prnet.analysis import count_flops, count_parameters
    from prnet.modeling.build import build_model

    model = build_model(config_file, None, overrides)
    return {
        "config": config_file,
        "overrides": list(overrides),
        "input_size": [height, width],
        "params": count_parameters(model),
        "gflops": count_flops(model, height, width),
    }


@exits_on_user_error
def main(argv=None):
    args = parse_args(argv)
    height, width = (args.size * 2)[:2]
    result = analyze(args.config_file, height, width, args.opts)
    p, g = result["params"], result["gflops"]
    print(f"{args.config_file} at {height}x{width}")
    print(f"  parameters : {p['total']:,} ({p['trainable']:,} trainable)")
    print(f"  GFLOPs     : {g['conv']:.2f} (conv, paper)  {g['conv_bn']:.2f} (conv+BN, thop)  "
          f"{g['fvcore']:.2f} (all fvcore ops)")
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return result
