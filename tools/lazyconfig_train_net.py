#!/usr/bin/env python
"""Train or evaluate a prnet model from a LazyConfig, the Detectron2 way.

Detectron2's ``tools/lazyconfig_train_net.py`` (same flags, plus ``--allow-mismatch`` for
``--eval-only``; ``do_train`` / ``do_test`` / ``main`` / ``launch``) with prnet's loop (``prnet.engine.train_loop``): EMA, the recipe's schedule and
warm-up, close-mosaic, best checkpoint, progress bar, seed, AMP, NaN policy, data check.

Examples::

    # train (all GPUs of one machine: --num-gpus 8; many machines: --num-machines/--machine-rank)
    python tools/lazyconfig_train_net.py --config-file configs/VisDrone/prnet_s_640.py
    # CPU, quick try with overrides
    python tools/lazyconfig_train_net.py --config-file configs/PRNet/prnet_n.py \\
        train.device=cpu train.epochs=1 dataloader.train.total_batch_size=2
    # continue an interrupted run from its last checkpoint (iteration, optimizer, LR, EMA, data)
    python tools/lazyconfig_train_net.py --config-file configs/VisDrone/prnet_s_640.py --resume
    # evaluate a checkpoint (EMA weights when the checkpoint has them)
    python tools/lazyconfig_train_net.py --config-file configs/VisDrone/prnet_s_640.py \\
        --eval-only train.init_checkpoint=output/VisDrone/prnet_s_640/model_best.pth
"""
from detectron2.engine import launch

from prnet.cli.errors import exits_on_user_error
from prnet.config import load_config
from prnet.engine.train_loop import argument_parser, do_test, do_train, main  # noqa: F401


@exits_on_user_error  # a config typo, bad data, a truncated checkpoint: the message, exit 1
def invoke_main() -> None:
    args = argument_parser().parse_args()
    load_config(args.config_file, args.opts)  # fail before any worker starts
    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )


if __name__ == "__main__":
    invoke_main()  # pragma: no cover
