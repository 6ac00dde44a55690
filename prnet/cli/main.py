"""The ``prnet`` command: one entry point for training, evaluation, prediction, export, timing,
analysis, dataset browsing and slicing, and checkpoint conversion. Examples::

    prnet train --config-file configs/PRNet/prnet_s.py train.device=cpu train.epochs=1
    prnet val --config-file configs/PRNet/prnet_s.py --weights output/prnet_s/model_best.pth
    prnet predict --config-file configs/PRNet/prnet_s.py --weights model_best.pth --input images/
    prnet export --config-file configs/PRNet/prnet_s.py --weights model_best.pth --format onnx
    prnet benchmark --config-file configs/PRNet/prnet_s.py --backends eager onnxruntime
    prnet analyze --config-file configs/PRNet/prnet_s.py --size 640
    prnet convert yolo11s.pt output/yolo11s_pan.pth

``prnet COMMAND --help`` shows a command's options and examples. Each command is a module of
``prnet.cli`` (``get_parser()`` and ``main(argv)``); the ``tools/`` scripts run the same modules
with Detectron2-style names (``tools/lazyconfig_train_net.py`` for train and val). Nothing heavy
(torch, Detectron2) is imported before the arguments are parsed, so help is instant.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass

__all__ = ["COMMANDS", "Command", "command_parser", "main"]


@dataclass(frozen=True)
class Command:
    module: str  # in prnet.cli: get_parser() -> ArgumentParser, main(argv)
    summary: str
    tool: str | None = None  # the tools/ script whose examples the module's help shows


COMMANDS = {
    "train": Command("prnet.cli.train", "train from a LazyConfig (--num-gpus, --resume, key=value)",
                     "tools/lazyconfig_train_net.py"),  # fmt: skip
    "val": Command("prnet.cli.val", "evaluate a checkpoint on the config's test set"),
    "predict": Command("prnet.cli.predict", "predict images, folders, videos (sliced or not)",
                       "tools/predict.py"),  # fmt: skip
    "export": Command("prnet.cli.export", "export to TorchScript, ONNX, OpenVINO, TensorRT",
                      "tools/export_model.py"),  # fmt: skip
    "benchmark": Command("prnet.cli.benchmark", "latency and throughput on every runtime",
                         "tools/benchmark.py"),  # fmt: skip
    "analyze": Command("prnet.cli.analyze", "parameters and GFLOPs of a config",
                       "tools/analyze_model.py"),  # fmt: skip
    "browse": Command("prnet.cli.browse", "draw dataset samples and object-size histograms"),
    "slice": Command("prnet.cli.slice_dataset", "cut a dataset into tiles at native resolution",
                     "tools/slice_dataset.py"),  # fmt: skip
    "convert": Command("prnet.cli.convert", "convert an Ultralytics checkpoint to prnet",
                       "tools/convert_ultralytics.py"),  # fmt: skip
}


def _top_parser(commands: dict[str, Command]) -> argparse.ArgumentParser:
    from prnet import __version__

    table = "\n".join(f"  {name:<10} {cmd.summary}" for name, cmd in commands.items())
    parser = argparse.ArgumentParser(prog="prnet", description=__doc__, epilog=f"commands:\n{table}",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--version", action="version", version=f"prnet {__version__}")
    parser.add_argument("command", metavar="COMMAND", choices=list(commands),
                        help="one of: " + ", ".join(commands))  # fmt: skip
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the command's arguments")
    return parser


def command_parser(name: str, module) -> argparse.ArgumentParser:
    """The module's parser as ``prnet <name>``: its usage and examples name the command, not the
    tools/ script."""
    parser = module.get_parser()
    parser.prog = f"prnet {name}"
    tool = COMMANDS[name].tool
    if tool:
        for field in ("description", "epilog"):
            text = getattr(parser, field)
            if text:
                setattr(parser, field, text.replace(f"python {tool}", f"prnet {name}"))
    return parser


def main(argv=None) -> int:
    """``prnet COMMAND ARGS``: parse, then run the command's ``main(ARGS)``. Returns the exit
    status (0; errors exit through ``SystemExit`` with their message)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = COMMANDS
    parser = _top_parser(commands)
    if not argv:
        parser.print_help()
        return 2
    args = parser.parse_args(argv)
    module = importlib.import_module(commands[args.command].module)
    # --help and usage errors from the parser named `prnet <command>`; the module parses again
    # (unknown arguments are its to judge: some parse intermixed positionals)
    command_parser(args.command, module).parse_known_args(args.args)
    module.main(args.args)
    return 0
