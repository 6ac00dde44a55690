"""Run a list of experiment configs under one fixed training budget and tabulate them.

Every config is trained with the same data, number of epochs, batch, warm-up, optimizer and
training image size (the budget flags below override the configs), once per seed (``--seeds``),
evaluated on the same test set with the dataset's protocol, and measured the same way. The table
(markdown and JSON) has per row: parameters and conv GFLOPs of backbone, neck and head at the
row's test size, CPU latency, and AP, AP50, APvt, APt, APs of the EMA weights as mean ± std over
the seeds (plus the raw weights' AP50).

    python tools/ablate.py --configs configs/PRNet/prnet_s.py configs/ablations/fpn_s.py \\
        --train-dataset synthetic_aerial_demo_train --test-dataset synthetic_aerial_val \\
        --epochs 6 --batch 16 --train-size 128 --optimizer adamw --lr 2e-3 --seeds 0 1 2 \\
        --head-channels 64 32 --output-dir output/ablate model.backbone.scale=n

What is fixed and what is not:

* budget: ``--epochs`` x the training set, ``--batch``, ``--warmup-epochs``, ``--close-mosaic-epochs``,
  ``--train-size`` (when given) and ``--optimizer`` (``config`` keeps each config's own) are the same
  for every row; trailing ``key=value`` overrides apply to every config too. The EMA window is
  derived from the budget (``train.ema.decay=auto``).
* head: ``--head-channels BOX CLS`` gives every row's dense head the same branch widths (by default
  each neck's finest level sets them, so a wider neck also gets a wider head).
* seeds: ``train.seed`` (weights, data order, augmentation) per run; the std is the sample
  standard deviation over the seeds.
* the test size is each config's own unless ``--test-size`` is given (the input-size ablations differ
  there); GFLOPs (convolutions, 2 x multiply-adds, batch 1) and latency are taken at that size.
* latency: eager PyTorch on CPU, batch 1, the whole ``model([{"image": ...}])`` call on the first
  test image (normalisation, network, box decoding, NMS), median of ``--latency-iters`` runs.

Runs are resumable: each run's directory (``<row>__seed<N>``) keeps its checkpoints and
``ablate_result.json``; running the same command again reuses finished runs (also with more seeds)
and resumes an interrupted one from its last checkpoint (``--force`` retrains). With ``--ultralytics yolo11n yolo11s`` (needs the optional ``ultralytics``
package) YOLO11 models are trained with Ultralytics' own recipe on the same data, epochs, batch and
sizes, and scored by prnet's evaluator (``prnet.experiments.ultralytics_peer``).
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import logging
import os
import shlex
import shutil
import sys
import time

import torch
from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.utils.env import seed_all_rng
from detectron2.utils.logger import setup_logger

from prnet.analysis import count_by_part, count_flops, count_parameters, cpu_name, time_function
from prnet.cli.errors import exits_on_user_error
from prnet.config import check_config
from prnet.engine import PRNetCheckpointer, do_train, place_model, unwrap_model
from prnet.utils.paths import config_dir

from .ablation_report import METRICS, aggregate, describe, markdown_table
from .ultralytics_peer import train_and_evaluate

logger = logging.getLogger("prnet.ablate")

CONFIG_ROOT = config_dir()
OPTIM_CONFIG = os.path.join(CONFIG_ROOT, "common", "optim.py")
RESULT_FILE = "ablate_result.json"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/ablate.py", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    p.add_argument("--configs", nargs="+", required=True, help="experiment config files, in table order")
    p.add_argument("--train-dataset", help="registered dataset name (default: each config's)")
    p.add_argument("--test-dataset", help="registered dataset name (default: each config's)")
    p.add_argument("--epochs", type=float, required=True, help="training epochs for every row")
    p.add_argument("--batch", type=int, default=16, help="total training batch")
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--close-mosaic-epochs", type=float, default=1.0)
    p.add_argument("--train-size", type=int, help="training image size (default: each config's)")
    p.add_argument("--test-size", type=int, help="test image size (default: each config's)")
    p.add_argument("--optimizer", choices=("config", "adamw"), default="config",
                   help="'adamw': configs/common/optim.py's AdamW with --lr / --weight-decay for every row")
    p.add_argument("--lr", type=float, default=2e-3, help="with --optimizer adamw")
    p.add_argument("--weight-decay", type=float, default=0.05, help="with --optimizer adamw")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="train every row once per seed")
    p.add_argument("--head-channels", type=int, nargs=2, metavar=("BOX", "CLS"),
                   help="the same dense-head branch widths for every row (model.head_channels)")
    p.add_argument("--workers", type=int, default=2, help="data-loader workers")
    p.add_argument("--latency-iters", type=int, default=10)
    p.add_argument("--checkpoint-period", type=int, default=100,
                   help="iterations between checkpoints: an interrupted row resumes from the last")
    p.add_argument("--ultralytics", nargs="*", default=[], metavar="MODEL",
                   help="also train these Ultralytics models (e.g. yolo11n yolo11s) as peers")
    p.add_argument("--output-dir", default="./output/ablate", help="run directories and the tables")
    p.add_argument("--title", default="Ablation", help="heading of the markdown table")
    p.add_argument("--force", action="store_true", help="retrain rows that already have results")
    p.add_argument("--latency-only", action="store_true",
                   help="re-measure the latency of finished rows from their final checkpoints "
                        "(e.g. on a quiet machine) and rewrite the tables; trains nothing")
    p.add_argument("opts", nargs="*", help="key=value overrides applied to every config")
    return p


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    # a list option right before the overrides takes them too: the rows would silently train
    # without them (and finished rows refuse the changed budget)
    for option in ("configs", "ultralytics"):
        taken = [v for v in getattr(args, option) or [] if "=" in v]
        if taken:
            parser.error(f"--{option} took the config overrides {taken}: put key=value overrides "
                         f"after another option, not right after --{option}")  # fmt: skip
    return args


def row_name(config_path: str) -> str:
    """``configs/ablations/fpn_s.py`` -> ``ablations/fpn_s`` (the table's row label)."""
    rel = os.path.relpath(os.path.abspath(config_path), CONFIG_ROOT)
    if rel.startswith(".."):  # a config outside configs/
        rel = os.path.basename(config_path)
    return os.path.splitext(rel)[0]


def budget_of(args) -> dict:
    """Everything that must match for two rows (or a rerun) to be comparable."""
    return {
        "train_dataset": args.train_dataset,
        "test_dataset": args.test_dataset,
        "epochs": args.epochs,
        "batch": args.batch,
        "warmup_epochs": args.warmup_epochs,
        "close_mosaic_epochs": args.close_mosaic_epochs,
        "train_size": args.train_size,
        "test_size": args.test_size,
        "optimizer": args.optimizer,
        "lr": args.lr if args.optimizer == "adamw" else None,
        "weight_decay": args.weight_decay if args.optimizer == "adamw" else None,
        "head_channels": list(args.head_channels) if args.head_channels else None,
        "overrides": list(args.opts),
    }


def budget_key(budget: dict) -> str:
    return hashlib.sha1(json.dumps(budget, sort_keys=True).encode()).hexdigest()[:12]


def build_config(config_path: str, args, output_dir: str, seed: int | None = None):
    """The config with the budget applied: same data, epochs, batch, optimizer, sizes and head
    widths; ``seed`` sets ``train.seed``."""
    cfg = LazyConfig.load(config_path)
    test_size = args.test_size or cfg.dataloader.test.mapper.image_size  # before train size changes
    overrides = [
        f"train.epochs={args.epochs}",
        f"train.warmup_epochs={args.warmup_epochs}",
        f"train.close_mosaic_epochs={args.close_mosaic_epochs}",
        "train.eval_epochs=0",  # evaluate once, after training (EMA weights)
        "train.max_iter=null",
        "train.eval_period=null",
        f"train.checkpointer.period={args.checkpoint_period}",
        "train.device=cpu",
        "train.amp.enabled=False",
        "train.ema.period=1",
        # the EMA window follows the budget (a few hundred updates; prnet.solver.resolve_ema)
        "train.ema.decay=auto",
        "train.ema.tau=auto",
        f"dataloader.train.total_batch_size={args.batch}",
        f"dataloader.train.num_workers={args.workers}",
        f"dataloader.test.num_workers={args.workers}",
        f"train.output_dir={output_dir}",
    ]
    if args.train_dataset:
        overrides.append(f"dataloader.train.dataset.names={args.train_dataset}")
    if args.test_dataset:
        overrides.append(f"dataloader.test.dataset.names={args.test_dataset}")
    if seed is not None:
        overrides.append(f"train.seed={seed}")
    if args.head_channels:
        overrides.append(f"model.head_channels=[{args.head_channels[0]},{args.head_channels[1]}]")
    if args.train_size:
        overrides.append(f"dataloader.train.mapper.image_size={args.train_size}")
    overrides.append(f"dataloader.test.mapper.image_size={int(test_size)}")
    cfg = check_config(cfg, [*overrides, *args.opts])
    cfg.model.num_classes = len(MetadataCatalog.get(cfg.dataloader.train.dataset.names).thing_classes)
    if args.optimizer == "adamw":
        adamw = LazyConfig.load(OPTIM_CONFIG).AdamW
        adamw.lr, adamw.weight_decay = args.lr, args.weight_decay
        cfg.optimizer = adamw
    return cfg


def measure_latency(cfg, model, iters: int) -> float:
    """Median ms of the whole eager ``model([{"image": ...}])`` call on the first test image, CPU."""
    record = DatasetCatalog.get(cfg.dataloader.test.dataset.names)[0]
    image = instantiate(cfg.dataloader.test.mapper)(record)["image"]
    model.eval()
    with torch.no_grad():
        stats = time_function(lambda: model([{"image": image}]), warmup=3, iters=iters)
    return stats["median_ms"]


def _load_result(result_path: str, budget: dict) -> dict | None:
    if not os.path.isfile(result_path):
        return None
    with open(result_path, encoding="utf-8") as f:
        result = json.load(f)
    if result.get("budget_key") != budget_key(budget):
        raise SystemExit(
            f"{result_path} was produced with another budget; pass --force to retrain it or "
            "choose another --output-dir."
        )
    return result


def _save_result(result: dict, result_path: str) -> None:
    os.makedirs(os.path.dirname(result_path), exist_ok=True)
    with open(result_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    os.replace(result_path + ".tmp", result_path)


def run_dir_of(name: str, args, seed: int) -> str:
    """``<output-dir>/<row, / -> __>__seed<N>``: one directory per run."""
    return os.path.join(args.output_dir, f"{name.replace(os.sep, '__')}__seed{seed}")


def remeasure_latency(config_path: str, args, budget: dict, seed: int) -> dict:
    """Latency of a finished run again, from its ``model_final.pth`` (trained weights: the NMS
    sees as many candidates as in the first measurement)."""
    run_dir = run_dir_of(row_name(config_path), args, seed)
    result_path = os.path.join(run_dir, RESULT_FILE)
    result = _load_result(result_path, budget)
    if result is None:
        raise SystemExit(f"--latency-only: {config_path} has no finished run in {run_dir}")
    cfg = build_config(config_path, args, run_dir, seed)
    model = place_model(instantiate(cfg.model), "cpu", cfg.train.get("channels_last"))
    PRNetCheckpointer(model).load(os.path.join(run_dir, "model_final.pth"))
    result["latency_ms"] = round(measure_latency(cfg, model, args.latency_iters), 1)
    result["latency_remeasured"] = True
    _save_result(result, result_path)
    return result


def _read_metrics(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        metrics = json.load(f)["metrics"]
    return {k: metrics.get(k) for k in METRICS}


def run_config(config_path: str, args, budget: dict, seed: int) -> dict:
    """Train, evaluate and measure one config with one seed (or reuse its finished result)."""
    name = row_name(config_path)
    run_dir = run_dir_of(name, args, seed)
    result_path = os.path.join(run_dir, RESULT_FILE)
    if not args.force:
        result = _load_result(result_path, budget)
        if result is not None:
            logger.info(f"[ablate] {name} seed {seed}: reusing {result_path}")
            return result
    elif os.path.isdir(run_dir):
        shutil.rmtree(run_dir)

    cfg = build_config(config_path, args, run_dir, seed)
    seed_all_rng(cfg.train.seed)
    start = time.perf_counter()
    trainer = do_train(argparse.Namespace(resume=True), cfg)  # resumes an interrupted run
    train_seconds = time.perf_counter() - start
    inference = os.path.join(run_dir, "inference")

    model = unwrap_model(trainer.model)
    size = int(cfg.dataloader.test.mapper.image_size)
    result = {
        "name": name,
        "config": os.path.relpath(config_path),
        "what": describe(config_path),
        "seed": seed,
        "budget_key": budget_key(budget),
        "iterations": trainer.iter,
        "train_seconds": round(train_seconds, 1),
        "test_size": size,
        "params": count_parameters(model)["total"],
        "gflops": round(count_flops(model, size, size)["conv"], 2),
        "parts": {k: {"params": v["params"], "gflops": round(v["gflops"], 3)}
                  for k, v in count_by_part(model, size, size).items()},  # fmt: skip
        "latency_ms": round(measure_latency(cfg, model, args.latency_iters), 1),
        "metrics": _read_metrics(os.path.join(inference, "metrics.json")),  # EMA weights
    }
    raw = os.path.join(inference, "raw", "metrics.json")
    if os.path.isfile(raw):
        result["metrics_raw"] = _read_metrics(raw)
    del trainer, model
    gc.collect()
    _save_result(result, result_path)
    return result


def run_peer(model_name: str, args, budget: dict, seed: int) -> dict:
    """An Ultralytics YOLO11 model on the same data and budget (optional dependency)."""
    run_dir = os.path.join(args.output_dir, f"ultralytics__{model_name}__seed{seed}")
    result_path = os.path.join(run_dir, RESULT_FILE)
    result = None if args.force else _load_result(result_path, budget)
    if result is not None:
        return result
    reference = build_config(args.configs[0], args, run_dir, seed)
    train_name = reference.dataloader.train.dataset.names
    test_name = reference.dataloader.test.dataset.names
    peer = train_and_evaluate(
        model_name, train_name, test_name,
        image_size=int(reference.dataloader.train.mapper.image_size),
        test_image_size=int(reference.dataloader.test.mapper.image_size),
        epochs=int(round(args.epochs)), batch=args.batch, output_dir=run_dir,
        preset=reference.dataloader.evaluator.preset, seed=seed,
        latency_size=int(reference.dataloader.test.mapper.image_size), workers=args.workers,
    )  # fmt: skip
    result = {
        "name": f"ultralytics/{model_name}",
        "config": None,
        "what": f"Ultralytics {model_name} (optional peer): {peer.get('recipe', '')}",
        "seed": seed,
        "budget_key": budget_key(budget),
        "iterations": peer.get("iterations"),
        "train_seconds": round(peer["train_seconds"], 1),
        "test_size": int(reference.dataloader.test.mapper.image_size),
        "params": peer["params"],
        "gflops": round(peer["gflops"], 2),
        "latency_ms": round(peer["latency_ms"], 1),
        "metrics": {k: peer["metrics"].get(k) for k in METRICS},
    }
    _save_result(result, result_path)
    return result


@exits_on_user_error
def main(argv=None) -> dict:
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    for name in ("detectron2", "prnet", "fvcore"):
        setup_logger(args.output_dir, name=name)
    missing = [c for c in args.configs if not os.path.isfile(c)]
    if missing:
        raise SystemExit(f"config file(s) not found: {missing}")
    for path in args.configs:  # fail on a bad config, override or schedule before any training
        instantiate(build_config(path, args, args.output_dir).lr_multiplier)

    budget = budget_of(args)
    rows = []
    run = remeasure_latency if args.latency_only else run_config
    for i, path in enumerate(args.configs):
        runs = []
        for seed in args.seeds:
            logger.info(f"[ablate] {i + 1}/{len(args.configs)}: {path}, seed {seed}")
            runs.append(run(path, args, budget, seed))
        rows.append(aggregate(runs))
    for peer in args.ultralytics:  # (peers keep their latency: measured by their own tool)
        logger.info(f"[ablate] peer: ultralytics {peer}")
        rows.append(aggregate([run_peer(peer, args, budget, seed) for seed in args.seeds]))

    reference = build_config(args.configs[0], args, args.output_dir)
    report = {
        "title": args.title,
        # the training command (a --latency-only pass is noted per row and in the table)
        "command": "python tools/ablate.py " + shlex.join(
            a for a in (argv if argv is not None else sys.argv[1:]) if a != "--latency-only"
        ),
        "budget": budget,
        "seeds": list(args.seeds),
        "train_dataset": reference.dataloader.train.dataset.names,
        "test_dataset": reference.dataloader.test.dataset.names,
        "preset": reference.dataloader.evaluator.preset,
        "machine": cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "rows": rows,
    }
    json_path = os.path.join(args.output_dir, "ablation.json")
    md_path = os.path.join(args.output_dir, "ablation.md")
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(markdown_table(report))
    print(markdown_table(report))
    print(f"[ablate] wrote {md_path} and {json_path}")
    return report


if __name__ == "__main__":
    main()
