"""The training and evaluation loop of every prnet config, Detectron2-style: :func:`do_train`,
:func:`do_test` and :func:`main` of Detectron2's ``tools/lazyconfig_train_net.py``, plus what the
PRNet recipe needs: an EMA of the weights (evaluated beside the raw weights, checkpointed,
resumed), an epoch-based schedule (``prnet.solver.resolve_schedule``), the recipe's momentum and
bias-LR warm-up, mosaic switched off for the last epochs, ``model_best.pth`` by
``train.best_checkpointer.val_metric``, a tqdm progress bar, a seed with a data order that
survives ``--resume``, AMP (CUDA), a NaN/Inf-loss policy and a check of the training data before
any worker starts. ``prnet train`` / ``prnet val`` and ``tools/lazyconfig_train_net.py`` are its
command lines (:mod:`prnet.cli.train`).
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import OrderedDict
from contextlib import nullcontext

from detectron2.config import instantiate
from detectron2.engine import default_setup, default_writers, hooks
from detectron2.evaluation import inference_on_dataset, print_csv_format
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger
from omegaconf import OmegaConf

from prnet.checkpoint.metadata import config_metadata
from prnet.config import load_config, resolve_num_classes
from prnet.data.check import check_training_data
from prnet.solver import resolve_schedule
from prnet.utils.log_files import DropMessages, plain_log_files

from .checkpoint import CheckpointMismatchError, PRNetCheckpointer, incompatibility_report
from .data import fast_forward_train_loader
from .ema import ModelEMA
from .hooks import (
    BestCheckpointer,
    CloseMosaicHook,
    EMAHook,
    PeriodicCheckpointer,
    ProgressBarHook,
    TrainingCurvesHook,
    WarmupMomentumAndBiasLR,
)
from .trainer import (
    build_trainer,
    convert_sync_batchnorm,
    ddp_model,
    place_model,
    resolve_device,
)

__all__ = [
    "argument_parser",
    "build_evaluator",
    "do_test",
    "do_train",
    "evaluate_checkpoint",
    "main",
    "setup_plain_log_files",
    "trim_metrics",
]

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
    use_ema = ema is not None and ema.has_average
    if ema is not None and not use_ema:
        logger.warning("The EMA has no update yet: scoring the raw weights.")
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
    checkpointer = PRNetCheckpointer(model, output_dir, **checkpointables)
    checkpointer.tags_last_checkpoint = False  # --resume continues from the newest, not the best
    return checkpointer


def trim_metrics(path: str, start_iter: int) -> int:
    """Drop the records of iterations >= ``start_iter`` from Detectron2's ``metrics.json`` (one
    JSON object per line): a resumed run logs them again. Returns how many were dropped."""
    if not os.path.isfile(path):
        return 0
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    kept = []
    for line in lines:
        try:
            if json.loads(line).get("iteration", -1) >= start_iter:
                continue
        except (json.JSONDecodeError, AttributeError):  # a line cut by the crash
            continue
        kept.append(line)
    if len(kept) != len(lines):
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(kept)
    return len(lines) - len(kept)


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
    resolve_num_classes(cfg)  # a null model.num_classes from the training dataset's metadata
    model = instantiate(cfg.model)
    logger.info("Model:\n{}".format(model))
    place_model(model, device, cfg.train.get("channels_last"))
    sync_bn = cfg.train.get("sync_bn")
    if comm.get_world_size() > 1 and (sync_bn is None or sync_bn):
        # BN statistics over the whole batch, as in one process; before the optimizer and the
        # EMA take references to the BatchNorm parameters
        convert_sync_batchnorm(model)

    cfg.optimizer.params.model = model
    optim = instantiate(cfg.optimizer)

    train_loader = instantiate(cfg.dataloader.train)
    # before any DataLoader worker starts: count what the mapper would clip/drop, fail on the rest
    data_report = check_training_data(
        train_loader, cfg.model.get("num_classes"), cfg.train.get("data_check", "header")
    )
    # after the loader read the dataset (Detectron2's COCO loader sets thing_classes then)
    model.prnet_meta = config_metadata(cfg, getattr(args, "config_file", None), getattr(args, "opts", []))
    total_batch_size = cfg.dataloader.train.total_batch_size
    schedule = resolve_schedule(cfg.train, _count_train_images(train_loader), total_batch_size)
    logger.info(f"Schedule on {device}: {schedule}")
    if cfg.train.ema.enabled and schedule.max_iter < schedule.ema_period:
        logger.warning(
            f"The EMA updates every {schedule.ema_period} iterations but the run has "
            f"{schedule.max_iter}: it will get no update, and evaluation, export and prediction "
            "use the raw weights (set train.ema.period to update it more often)."
        )

    ema = None
    if cfg.train.ema.enabled:
        ema = ModelEMA(model, decay=schedule.ema_decay, tau=schedule.ema_tau)

    model = ddp_model(model, device, **cfg.train.ddp)
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
    # results.png with the evaluation pictures; dataloader.evaluator.plots=False switches both off
    plots = (cfg.dataloader.get("evaluator") or {}).get("plots", True)
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
                PeriodicCheckpointer(
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
                BestCheckpointer(
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
                TrainingCurvesHook(
                    os.path.join(cfg.train.output_dir, "metrics.json"),
                    os.path.join(cfg.train.output_dir, "results.png"),
                    schedule.eval_period,
                )
                if main_process and plots
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
        if main_process:  # the iterations after that checkpoint are logged again
            trim_metrics(os.path.join(cfg.train.output_dir, "metrics.json"), start_iter)
    else:
        start_iter = 0
    trainer.train(start_iter, schedule.max_iter)
    return trainer


def argument_parser():
    """The command line of ``tools/lazyconfig_train_net.py`` and ``prnet train``: Detectron2's
    ``default_argument_parser`` flags with prnet's help, plus ``--weights`` and ``--allow-mismatch``
    (evaluate weights that do not fit the config, e.g. a partly converted checkpoint)."""
    from prnet.cli.train import get_parser

    return get_parser()


def _prepare_output_dir(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as e:
        raise OSError(
            e.errno, f"train.output_dir={path!r} cannot be created or written: {e.strerror or e}"
        ) from e


def setup_plain_log_files(output_dir: str, rank: int) -> None:
    """The loggers of ``default_setup`` (same calls: ``setup_logger`` caches them) and prnet's,
    their ``log.txt`` handlers writing plain text before ``default_setup`` logs the highlighted
    config (the console keeps its colours), and torch's CUDA_HOME notice silenced."""
    setup_logger(output_dir, distributed_rank=rank, name="fvcore")
    setup_logger(output_dir, distributed_rank=rank)
    setup_logger(output_dir, distributed_rank=rank, name="prnet")
    plain_log_files(("fvcore", "detectron2", "prnet"))
    # default_setup's environment report imports torch.utils.cpp_extension, which warns on every
    # machine without CUDA; whether a run may use CUDA is checked by resolve_device
    probe = logging.getLogger("torch.utils.cpp_extension")
    if not any(isinstance(f, DropMessages) for f in probe.filters):
        probe.addFilter(DropMessages("No CUDA runtime is found"))


def evaluate_checkpoint(cfg, allow_mismatch: bool = False):
    """``--eval-only``: score ``train.init_checkpoint`` (EMA weights when it has an average, and
    the raw ones too). Refuses to run without weights, and weights that do not fit the model
    unless ``allow_mismatch``."""
    weights = cfg.train.init_checkpoint
    if not weights:
        raise ValueError("--eval-only needs the weights to score: train.init_checkpoint=<file>")
    resolve_num_classes(cfg)
    model = instantiate(cfg.model)
    place_model(model, resolve_device(cfg.train.get("device")), cfg.train.get("channels_last"))
    model = ddp_model(model, cfg.train.get("device") or resolve_device(None))
    ema = ModelEMA(model) if cfg.train.ema.enabled else None
    checkpointables = {"ema": ema} if ema is not None else {}
    checkpointer = PRNetCheckpointer(model, **checkpointables)
    checkpointer.load(weights)
    report = incompatibility_report(checkpointer.last_incompatible)
    if report and not allow_mismatch:
        raise CheckpointMismatchError(
            f"{weights} does not fit the model this config builds:\n{report}\n"
            "Use the config it was trained with, or pass --allow-mismatch to score it anyway."
        )
    if report and ema is not None:  # its EMA tensors cannot be put into this model
        logger.warning("--allow-mismatch: scoring the checkpoint's raw weights, not its EMA.")
        ema = None
    return do_test(cfg, model, ema)


def main(args):
    """Detectron2's ``main``: the config (checked overrides), set-up, then evaluation only
    (``--eval-only``, weights from ``train.init_checkpoint``) or training. Returns the evaluation
    results or the trainer."""
    cfg = load_config(args.config_file, args.opts)  # overrides + dataset names checked
    if getattr(args, "weights", None):  # --weights FILE (prnet train/val)
        cfg.train.init_checkpoint = args.weights
    if comm.is_main_process():
        _prepare_output_dir(cfg.train.output_dir)
    resolve_device(cfg.train.get("device"))  # fail now on a device this machine lacks
    setup_plain_log_files(cfg.train.output_dir, comm.get_rank())
    default_setup(cfg, args)  # logging, config dump, seed_all_rng(train.seed + rank)

    if args.eval_only:
        return evaluate_checkpoint(cfg, getattr(args, "allow_mismatch", False))
    return do_train(args, cfg)
