r"""Train a prnet model from a LazyConfig, the Detectron2 way: the flags of Detectron2's
``tools/lazyconfig_train_net.py`` (``--num-gpus``, ``--resume``, ``--eval-only``, ``key=value``
overrides) over prnet's loop (``prnet.engine.train_loop``: EMA, the recipe's schedule and warm-up,
close-mosaic, ``model_best.pth``, progress bar, seed, AMP, NaN policy, a check of the data).

``tools/lazyconfig_train_net.py`` is its command line. Examples::

    # train (all GPUs of one machine: --num-gpus 8; many machines: --num-machines/--machine-rank)
    python tools/lazyconfig_train_net.py --config-file configs/VisDrone/prnet_s_640.py
    # CPU, quick try with overrides
    python tools/lazyconfig_train_net.py --config-file configs/PRNet/prnet_n.py \
        train.device=cpu train.epochs=1 dataloader.train.total_batch_size=2
    # fine-tune from a checkpoint (a prnet .pth or an Ultralytics .pt)
    python tools/lazyconfig_train_net.py --config-file configs/VisDrone/prnet_s_640.py \
        --weights output/yolo11s_pan.pth
    # continue an interrupted run from its last checkpoint (iteration, optimizer, LR, EMA, data)
    python tools/lazyconfig_train_net.py --config-file configs/VisDrone/prnet_s_640.py --resume
    # evaluate a checkpoint (EMA weights when the checkpoint has them; see also `prnet val`)
    python tools/lazyconfig_train_net.py --config-file configs/VisDrone/prnet_s_640.py \
        --eval-only --weights output/VisDrone/prnet_s_640/model_best.pth

Overrides are ``path.key=value`` (LazyConfig), checked against the config before anything is built;
the run writes ``config.yaml``, ``log.txt``, ``metrics.json`` and checkpoints to
``train.output_dir``.
"""
from __future__ import annotations

import argparse
import os
import sys

from prnet.cli.errors import exits_on_user_error

__all__ = ["add_launch_arguments", "get_parser", "launch_main", "main"]


def _default_dist_url() -> str:
    # as Detectron2: a port fixed per user, so an orphaned run shows up as "address in use"
    port = 2**15 + 2**14 + hash(os.getuid() if sys.platform != "win32" else 1) % 2**14
    return f"tcp://127.0.0.1:{port}"


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """Detectron2's ``launch`` flags: processes per machine and the machines of one run."""
    group = parser.add_argument_group("processes (Detectron2's launch)")
    group.add_argument("--num-gpus", type=int, default=1,
                       help="processes (GPUs) per machine; with train.device=cpu, CPU processes")  # fmt: skip
    group.add_argument("--num-machines", type=int, default=1, help="machines in the run")
    group.add_argument("--machine-rank", type=int, default=0, help="this machine's rank (0 ..)")
    group.add_argument("--dist-url", default=_default_dist_url(),
                       help="where the processes meet (default: a port fixed per user)")  # fmt: skip


def get_parser() -> argparse.ArgumentParser:
    """Detectron2's ``default_argument_parser`` flags with prnet's help, plus ``--weights`` (=
    ``train.init_checkpoint``) and ``--allow-mismatch``."""
    parser = argparse.ArgumentParser(prog="tools/lazyconfig_train_net.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--config-file", metavar="FILE", required=True,
                        help="LazyConfig file (configs/...)")  # fmt: skip
    parser.add_argument("--weights", metavar="FILE",
                        help="initial weights, or with --eval-only the weights to score "
                        "(sets train.init_checkpoint)")  # fmt: skip
    parser.add_argument("--resume", action="store_true",
                        help="continue from the last checkpoint in train.output_dir")  # fmt: skip
    parser.add_argument("--eval-only", action="store_true",
                        help="evaluate train.init_checkpoint (or --weights) on dataloader.test")  # fmt: skip
    parser.add_argument("--allow-mismatch", action="store_true",
                        help="--eval-only: score weights even if some do not fit the model "
                        "(those stay at their initialisation)")  # fmt: skip
    add_launch_arguments(parser)
    parser.add_argument("opts", nargs=argparse.REMAINDER, default=[],
                        help="path.key=value config overrides, e.g. train.max_iter=100")  # fmt: skip
    return parser


def _train_process(args: argparse.Namespace):
    """``prnet.engine.train_loop.main`` in one process of a run: a user error (missing data, a full
    disk...) ends it with its message and exit 1, the same as in a single-process run, instead of
    a traceback that torch's ``spawn`` would wrap in another one."""
    from prnet.engine.train_loop import main as train_main

    return exits_on_user_error(train_main)(args)


@exits_on_user_error  # a config typo, bad data, a truncated checkpoint: the message, exit 1
def launch_main(args: argparse.Namespace):
    """Check the config, then run ``prnet.engine.train_loop.main`` in ``--num-gpus`` processes per
    machine (Detectron2's ``launch``)."""
    from detectron2.engine import launch
    from torch.multiprocessing import ProcessExitedException

    from prnet.config import load_config

    load_config(args.config_file, args.opts)  # fail before any worker starts
    try:
        return launch(_train_process, args.num_gpus, num_machines=args.num_machines,
                      machine_rank=args.machine_rank, dist_url=args.dist_url, args=(args,))  # fmt: skip
    except ProcessExitedException as e:  # its own message is above; the others were stopped
        how = f"signal {e.signal_name}" if e.signal_name else f"exit code {e.exit_code}"
        sys.exit(f"error: training process {e.error_index} of {args.num_gpus} on this machine "
                 f"stopped ({how}); the other processes were ended")  # fmt: skip


def main(argv=None):
    return launch_main(get_parser().parse_args(argv))
