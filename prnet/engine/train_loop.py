"""The training and evaluation loop of every prnet config, Detectron2-style: :func:`do_train`,
:func:`do_test` and :func:`main` of Detectron2's ``tools/lazyconfig_train_net.py``, plus what the
PRNet recipe needs: an EMA of the weights (evaluated beside the raw weights, checkpointed,
resumed), an epoch-based schedule (``prnet.solver.resolve_schedule``), the recipe's momentum and
bias-LR warm-up, mosaic switched off for the last epochs, ``model_best.pth`` by
``train.best_checkpointer.val_metric``, a tqdm progress bar, a seed with a data order that
survives ``--resume``, AMP (CUDA), a NaN/Inf-loss policy and a check of the training data before
any worker starts. ``tools/lazyconfig_train_net.py`` is its command line.
"""
from __future__ import annotations

import logging
import os
from collections import OrderedDict
from contextlib import nullcontext

from detectron2.config import instantiate
from detectron2.engine import create_ddp_model, default_setup, default_writers, hooks
from detectron2.evaluation import inference_on_dataset, print_csv_format
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger
from omegaconf import OmegaConf

from prnet.config import load_config
from prnet.data.check import check_training_data
from prnet.solver import resolve_schedule

from .checkpoint import PRNetCheckpointer
from .data import fast_forward_train_loader
from .ema import ModelEMA
from .hooks import CloseMosaicHook, EMAHook, ProgressBarHook, WarmupMomentumAndBiasLR
from .trainer import build_trainer, place_model, resolve_device

__all__ = ["build_evaluator", "do_test", "do_train", "main"]

logger = logging.getLogger("prnet")


def build_evaluator(cfg, subdir: str | None = None):
    """``dataloader.evaluator``, writing into ``<its output_dir>/<subdir>`` when given."""
    evaluator = cfg.dataloader.evaluator
    if subdir and evaluator.get("output_dir"):
        evaluator = OmegaConf.to_container(evaluator, resolve=True)
        evaluator["output_dir"] = os.path.join(evaluator["output_dir"], subdir)
    return instantiate(evaluator)


def do_test(cfg, model, ema=None):
    """Evaluate ``model`` on ``dataloader.test``: the inference weights (the EMA when ``ema`` holds
    an average, else the raw weights) under ``"bbox"``, and with an EMA also the raw weights under
    ``"bbox_raw"`` (their report in ``<evaluator output_dir>/raw``), so a run always shows both."""
    if "evaluator" not in cfg.dataloader:
        return {}
    use_ema = ema is not None and ema.initialized
    results = OrderedDict()
    with ema.applied(model) if use_ema else nullcontext():
        results.update(inference_on_dataset(model, instantiate(cfg.dataloader.test),
                                            build_evaluator(cfg)))  # fmt: skip
    logger.info(f"Evaluation of the {'EMA' if use_ema else 'model'} weights:")
    print_csv_format(results)
    if use_ema and cfg.train.ema.get("eval_raw", True):
        raw = inference_on_dataset(
            model, instantiate(cfg.dataloader.test), build_evaluator(cfg, "raw")
        )
        logger.info("Evaluation of the raw (not averaged) weights:")
        print_csv_format(raw)
        results.update((f"{task}_raw", metrics) for task, metrics in raw.items())
    return results


def _count_train_images(train_loader):
    mapper = getattr(train_loader, "mapper", None)
    if mapper is not None and getattr(mapper, "dataset", None) is not None:
        return len(mapper.dataset)
    return len(train_loader.dataset.dataset)


def _best_checkpointer(val_metric: str, model, output_dir: str, checkpointables: dict):
    """The checkpointer for ``model_best.pth``: chosen by the raw weights' metric
    (``bbox_raw/...``), it leaves the EMA out, so every loader (which prefers EMA weights) uses
    the weights that earned the score."""
    if val_metric.split("/")[0].endswith("_raw"):
        checkpointables = {k: v for k, v in checkpointables.items() if k != "ema"}
    return PRNetCheckpointer(model, output_dir, **checkpointables)


def do_train(args, cfg, extra_hooks=()):
    """
    Args:
        cfg: an object with the following attributes:
            model: instantiate to a module
            dataloader.{train,test}: instantiate to dataloaders
            dataloader.evaluator: instantiate to evaluator for test set
            optimizer: instantiate to an optimizer
            lr_multiplier: instantiate to a fvcore scheduler
            train: other misc config defined in `configs/common/train.py`, including:
                output_dir (str), init_checkpoint (str), seed, device, the epoch schedule
                (epochs, warmup_epochs, close_mosaic_epochs, eval_epochs) or its iteration
                overrides (max_iter, eval_period, checkpointer.period), amp, ema, ddp,
                best_checkpointer, log_period, progress_bar, data_check, nan_policy
        extra_hooks: more hooks to register last (tests, experiments).

    Returns the trainer.
    """
    device = resolve_device(cfg.train.get("device"))
    model = instantiate(cfg.model)
    logger.info("Model:\n{}".format(model))
    place_model(model, device, cfg.train.get("channels_last"))

    cfg.optimizer.params.model = model
    optim = instantiate(cfg.optimizer)

    train_loader = instantiate(cfg.dataloader.train)
    # before any DataLoader worker starts: count what the mapper would clip/drop, fail on the rest
    data_report = check_training_data(
        train_loader, cfg.model.get("num_classes"), cfg.train.get("data_check", "header")
    )
    total_batch_size = cfg.dataloader.train.total_batch_size
    schedule = resolve_schedule(cfg.train, _count_train_images(train_loader), total_batch_size)
    logger.info(f"Schedule on {device}: {schedule}")

    ema = None
    if cfg.train.ema.enabled:
        ema = ModelEMA(model, decay=schedule.ema_decay, tau=schedule.ema_tau)

    model = create_ddp_model(model, **cfg.train.ddp)
    trainer = build_trainer(
        model,
        train_loader,
        optim,
        cfg.train.amp,
        device,
        nan_policy=cfg.train.get("nan_policy", "stop"),
        max_skipped_steps=cfg.train.get("max_skipped_steps", 10),
        clip_grad_norm=cfg.train.get("clip_grad_norm"),
    )
    checkpointables = {"trainer": trainer}
    if ema is not None:
        checkpointables["ema"] = ema
    checkpointer = PRNetCheckpointer(model, cfg.train.output_dir, **checkpointables)
    main_process = comm.is_main_process()
    best = cfg.train.get("best_checkpointer")
    progress_bar = cfg.train.get("progress_bar")
    trainer.data_check_report = data_report
    trainer.register_hooks(
        [
            # time every iteration: with Detectron2's default (skip 3) a run stopped in its
            # first iterations crashes in CommonMetricPrinter's ETA when logging at the end
            hooks.IterationTimer(warmup_iter=1),
            EMAHook(ema, schedule.ema_period) if ema is not None else None,
            hooks.LRScheduler(scheduler=instantiate(cfg.lr_multiplier)),
            WarmupMomentumAndBiasLR(
                optim,
                schedule.warmup_iter,
                warmup_momentum=cfg.train.get("warmup_momentum"),
                bias_lr_factor=cfg.train.get("warmup_bias_lr_factor"),
            ),
            CloseMosaicHook(schedule.close_mosaic_iter),
            (
                hooks.PeriodicCheckpointer(
                    checkpointer,
                    period=schedule.checkpoint_period,
                    max_iter=schedule.max_iter,
                    max_to_keep=cfg.train.checkpointer.get("max_to_keep"),
                )
                if main_process
                else None
            ),
            hooks.EvalHook(schedule.eval_period, lambda: do_test(cfg, model, ema)),
            (
                hooks.BestCheckpointer(
                    schedule.eval_period,
                    _best_checkpointer(
                        best.val_metric, model, cfg.train.output_dir, checkpointables
                    ),
                    best.val_metric,
                    mode=best.mode,
                )
                if main_process and best
                else None
            ),
            (
                hooks.PeriodicWriter(
                    default_writers(cfg.train.output_dir, schedule.max_iter),
                    period=cfg.train.log_period,
                )
                if main_process
                else None
            ),
            (
                ProgressBarHook(
                    schedule.max_iter, disable=None if progress_bar is None else not progress_bar
                )
                if main_process
                else None
            ),
            *extra_hooks,
        ]
    )

    checkpointer.resume_or_load(cfg.train.init_checkpoint, resume=args.resume)
    if args.resume and checkpointer.has_checkpoint():
        # The checkpoint records the last finished iteration; continue from the next one, with
        # the data stream (sampler and augmentation randomness) where the run left it.
        start_iter = trainer.iter + 1
        fast_forward_train_loader(
            train_loader, start_iter, total_batch_size // comm.get_world_size()
        )
    else:
        start_iter = 0
    trainer.train(start_iter, schedule.max_iter)
    return trainer


def main(args):
    """Detectron2's ``main``: the config (checked overrides), set-up, then evaluation only
    (``--eval-only``, weights from ``train.init_checkpoint``) or training. Returns the evaluation
    results or the trainer."""
    cfg = load_config(args.config_file, args.opts)  # overrides + dataset names checked
    default_setup(cfg, args)  # logging, config dump, seed_all_rng(train.seed + rank)
    setup_logger(cfg.train.output_dir, distributed_rank=comm.get_rank(), name="prnet")

    if args.eval_only:
        model = instantiate(cfg.model)
        place_model(model, resolve_device(cfg.train.get("device")), cfg.train.get("channels_last"))
        model = create_ddp_model(model)
        ema = ModelEMA(model) if cfg.train.ema.enabled else None
        checkpointables = {"ema": ema} if ema is not None else {}
        PRNetCheckpointer(model, **checkpointables).load(cfg.train.init_checkpoint)
        return do_test(cfg, model, ema)
    return do_train(args, cfg)
