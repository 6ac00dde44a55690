"""``make demo``: train PRNet-n on the built-in synthetic aerial data on CPU, evaluate, draw.

Steps: generate the synthetic splits (cached under ``$DETECTRON2_DATASETS/synthetic_aerial``),
train ``configs/demo/prnet_n_synthetic.py`` with :func:`prnet.engine.do_train`
(EMA, schedule, checkpoints), evaluate on ``synthetic_aerial_val`` with the
``synthetic`` preset (AI-TOD size bins: AP, AP50, APvt < 8 px, APt 8-16 px; ignore regions) with
the EMA and the raw weights, write ``demo_metrics.json`` and ``demo_predictions.png`` (ground
truth | predictions), then export the EMA model to ONNX (NMS inside, verified against PyTorch at a
second size) and print where everything is. The metrics and the drawing are written before the
export, so a failed export never loses the training result; the exit status is 1 only when the
exported model computes something else than PyTorch.

    python tools/demo.py [--output-dir DIR] [--score-thresh T] [key=value config overrides ...]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from detectron2.config import instantiate
from detectron2.data import DatasetCatalog, MetadataCatalog
from PIL import Image
from detectron2.utils.env import seed_all_rng
from detectron2.utils.logger import setup_logger
from detectron2.utils.visualizer import Visualizer

from prnet.checkpoint import load_weights
from prnet.cli.errors import exits_on_user_error
from prnet.config import load_config
from prnet.data.image_io import read_image_rgb
from prnet.engine import do_train, unwrap_model
from prnet.export import export_model
from prnet.utils.paths import config_dir

__all__ = ["main", "parse_args"]

CONFIG = os.path.join(config_dir(), "demo", "prnet_n_synthetic.py")
SUMMARY_KEYS = ("AP", "AP50", "AP75", "APvt", "APt", "APs")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="tools/demo.py", description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", default=CONFIG)
    parser.add_argument("--output-dir", default=None, help="default: the config's train.output_dir")
    parser.add_argument("--score-thresh", type=float, default=0.3, help="for the drawing only")
    parser.add_argument("opts", nargs="*", help="config overrides key=value")
    return parser.parse_intermixed_args(argv)


def draw(cfg, model, path, score_thresh):
    """Ground truth (left) beside the model's predictions (right) for one val image."""
    name = cfg.dataloader.test.dataset.names
    record = DatasetCatalog.get(name)[0]
    meta = MetadataCatalog.get(name)
    mapper = instantiate(cfg.dataloader.test.mapper)
    image = read_image_rgb(record["file_name"])
    model.eval()
    with torch.no_grad():
        out = model([mapper(record)])[0]["instances"].to("cpu")
    out = out[out.scores >= score_thresh]
    left = Visualizer(image, meta, scale=2.0).draw_dataset_dict(
        {**record, "annotations": [a for a in record["annotations"] if not a.get("iscrowd")]}
    )
    right = Visualizer(image, meta, scale=2.0)
    right = right.overlay_instances(
        boxes=out.pred_boxes.tensor.numpy(),
        labels=[meta.thing_classes[c] for c in out.pred_classes.tolist()],
    )
    gap = np.full((left.get_image().shape[0], 8, 3), 255, np.uint8)
    canvas = np.concatenate([left.get_image(), gap, right.get_image()], axis=1)
    Image.fromarray(canvas).save(path)
    return len(out)


def _summary(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    return report["preset"], {k: report["metrics"].get(k) for k in SUMMARY_KEYS}


def _write(demo_metrics: dict, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(demo_metrics, f, indent=2)


@exits_on_user_error
def main(argv=None):
    args = parse_args(argv)
    t0 = time.perf_counter()
    cfg = load_config(args.config_file, args.opts)
    if args.output_dir:
        cfg.train.output_dir = args.output_dir
    out_dir = cfg.train.output_dir
    os.makedirs(out_dir, exist_ok=True)
    setup_logger(out_dir, name="detectron2")
    setup_logger(out_dir, name="prnet")
    setup_logger(out_dir, name="fvcore")
    seed_all_rng(cfg.train.seed)
    torch.set_num_threads(max(torch.get_num_threads(), 1))

    # 1. data (generated once, then cached)
    for name in (cfg.dataloader.train.dataset.names, cfg.dataloader.test.dataset.names):
        print(f"[demo] dataset {name}: {len(DatasetCatalog.get(name))} images")
    t_data = time.perf_counter()

    # 2. train (the final evaluation runs at the end of training: EMA and raw weights)
    # the config file and overrides go into the checkpoint's prnet_meta: `prnet val --weights` finds them
    opts = [*args.opts, *([f"train.output_dir={args.output_dir}"] if args.output_dir else [])]
    train_args = argparse.Namespace(resume=False, config_file=args.config_file, opts=opts)
    trainer = do_train(train_args, cfg)
    t_train = time.perf_counter()

    # 3. metrics, written before anything else can fail
    inference = os.path.join(out_dir, "inference")
    preset, summary = _summary(os.path.join(inference, "metrics.json"))
    demo_metrics = {
        "preset": preset,
        "dataset": cfg.dataloader.test.dataset.names,
        "metrics_percent": summary,  # the EMA weights (the model that is exported)
        "iterations": trainer.iter,
        "seconds": {
            "data": round(t_data - t0, 1),
            "train_and_eval": round(t_train - t_data, 1),
        },
    }
    raw_path = os.path.join(inference, "raw", "metrics.json")
    if os.path.isfile(raw_path):
        demo_metrics["metrics_percent_raw"] = _summary(raw_path)[1]
    metrics_path = os.path.join(out_dir, "demo_metrics.json")
    _write(demo_metrics, metrics_path)
    fmt = lambda v: "n/a" if v is None else f"{v:.1f}"  # noqa: E731
    print("\n[demo] results on {} ({} protocol, percent):".format(demo_metrics["dataset"], preset))
    print("  EMA weights: " + "  ".join(f"{k} {fmt(v)}" for k, v in summary.items()))
    if "metrics_percent_raw" in demo_metrics:
        print("  raw weights: " + "  ".join(
            f"{k} {fmt(v)}" for k, v in demo_metrics["metrics_percent_raw"].items()))

    # 4. drawing with the final weights (the EMA: what is exported)
    model = unwrap_model(trainer.model)
    load_weights(model, os.path.join(out_dir, "model_final.pth"))
    png = os.path.join(out_dir, "demo_predictions.png")
    n_drawn = draw(cfg, model, png, args.score_thresh)
    print(f"[demo] metrics:     {metrics_path}")
    print(f"[demo] full report: {os.path.join(inference, 'metrics.json')} (raw weights: "
          f"{raw_path})")
    print(f"[demo] drawing:     {png} (ground truth | {n_drawn} predictions >= "
          f"{args.score_thresh})")
    print(f"[demo] checkpoints: {out_dir}/model_final.pth (raw + EMA weights)")
    print(f"[demo] TensorBoard: tensorboard --logdir {out_dir}")

    # 5. ONNX export of the EMA weights with NMS in the graph: traced at the test size and
    # checked against eager PyTorch at another size (prnet.export.verify_export)
    onnx_path = os.path.join(out_dir, "export", "prnet_n_synthetic.onnx")
    size = cfg.dataloader.test.mapper.image_size
    try:
        export_model(
            model.eval(), "onnx", onnx_path, with_nms=True,
            trace_size=(1, size, size), verify_size=(2, size + 32, size + 64),
        )  # fmt: skip
    except AssertionError as e:  # the exported file computes something else: a real failure
        demo_metrics["onnx"] = {"path": onnx_path, "verified": False, "error": str(e)}
        _write(demo_metrics, metrics_path)
        print(f"[demo] ONNX export FAILED verification against PyTorch:\n{e}", file=sys.stderr)
        return demo_metrics, 1
    demo_metrics["onnx"] = {"path": onnx_path, "verified": True}
    demo_metrics["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    _write(demo_metrics, metrics_path)
    print(f"[demo] ONNX model:  {onnx_path} (NMS inside; verified against PyTorch)")
    print(f"[demo] total time:  {demo_metrics['seconds']['total']:.0f} s")
    return demo_metrics, 0
