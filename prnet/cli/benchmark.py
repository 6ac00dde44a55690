"""Latency and throughput of a prnet model on every runtime, written as JSON.

    python tools/benchmark.py --config-file configs/PRNet/prnet_s.py --size 640 --batch 1 8 \
        --backends eager torchscript onnxruntime tensorrt --output output/benchmark/prnet_s_640.json

For each runtime and batch size, after ``--warmup`` runs, the median and p90 over ``--iters`` runs of:

* ``preprocess``: resize ``--source-size`` RGB frames so the long side is ``--size`` and batch them
  (what ``prnet.inference.Predictor`` does on the host);
* ``model``: the exported graph on the batch (normalisation, padding, backbone, neck, head and box
  decoding; NMS too with ``--nms``), synchronised on GPU;
* ``postprocess``: score threshold, top-k and class-aware NMS on the host (graphs without NMS),
  rescaling to the source frame.

``throughput_ips`` is images per second of the model step. The eager runtime runs the same
``DeployableDetector`` that is traced for TorchScript/ONNX/TensorRT, so the numbers compare like
with like. Runtimes that cannot run here (TensorRT without CUDA) are reported with the reason.
Weights do not change the timings much (NMS does see more candidates with a trained model); pass
``--weights`` to time a trained checkpoint.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile

import numpy as np
import torch
from detectron2.modeling.postprocessing import detector_postprocess

from prnet.analysis import count_parameters, cpu_name, time_function
from prnet.cli.errors import exits_on_user_error
from prnet.export import (
    EagerBackend,
    export_model,
    load_exported,
    outputs_to_instances,
    tensorrt_unavailable_reason,
)
from prnet.inference import Predictor, batch_images
from prnet.modeling.build import build_model

__all__ = ["BACKENDS", "benchmark_backend", "main", "parse_args"]

BACKENDS = ("eager", "torchscript", "onnxruntime", "tensorrt")
_SUFFIX = {"torchscript": ".ts", "onnxruntime": ".onnx", "tensorrt": ".engine"}
_FORMAT = {"torchscript": "torchscript", "onnxruntime": "onnx", "tensorrt": "tensorrt"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="tools/benchmark.py", description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--weights", default="", help="checkpoint (EMA weights preferred)")
    parser.add_argument("--size", type=int, default=640, help="long side of the model input")
    parser.add_argument("--source-size", type=int, nargs=2, default=[1080, 1920], metavar=("H", "W"))
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--nms", action="store_true", help="time graphs with NMS inside")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--workdir", default=None, help="where exported files go (default: temp)")
    parser.add_argument("--output", help="JSON file to write (default: print only)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="key=value config overrides")
    return parser.parse_args(argv)


def _make_backend(name, model, args, workdir):
    """The runtime ``name`` for ``model``, exporting it first where needed."""
    if name == "eager":
        return EagerBackend(model, with_nms=args.nms)
    if name == "tensorrt" and tensorrt_unavailable_reason():
        raise RuntimeError(tensorrt_unavailable_reason())
    path = os.path.join(workdir, f"model{_SUFFIX[name]}")
    extra = {"max_shape": (max(args.batch), 3, args.size, args.size)} if name == "tensorrt" else {}
    export_model(
        model, _FORMAT[name], path, with_nms=args.nms, trace_size=(1, args.size, args.size),
        verify_size=None, **extra,
    )  # fmt: skip
    return load_exported(path, device=args.device)


def benchmark_backend(backend, args) -> dict:
    predictor = Predictor(backend, image_size=args.size, batch_size=max(args.batch))
    h, w = args.source_size
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    sync = backend.synchronize
    results = {}
    for batch in args.batch:
        frames = [frame] * batch
        tensors = [predictor.resize(f) for f in frames]
        sizes = [tuple(t.shape[-2:]) for t in tensors]
        images = batch_images(tensors, predictor.pad_value).to(backend.device)
        with torch.no_grad():
            outputs = backend(images)

        def preprocess():
            batch_images([predictor.resize(f) for f in frames], predictor.pad_value)

        def model_step():
            with torch.no_grad():
                backend(images)

        def postprocess():
            for r in outputs_to_instances(outputs, sizes, **predictor.rules):
                detector_postprocess(r.to("cpu"), h, w)

        model_time = time_function(model_step, args.warmup, args.iters, sync)
        results[f"batch_{batch}"] = {
            "preprocess": time_function(preprocess, 1, max(3, args.iters // 4)),
            "model": model_time,
            "postprocess": time_function(postprocess, 1, max(3, args.iters // 4)),
            "throughput_ips": batch / (model_time["median_ms"] / 1e3),
        }
    return results


@exits_on_user_error
def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = build_model(args.config_file, args.weights or None, args.opts).to(args.device).eval()
    report = {
        "config": args.config_file,
        "weights": args.weights,
        "overrides": args.opts,
        "input_size": [args.size, args.size],
        "source_size": args.source_size,
        "nms_in_graph": args.nms,
        "params": count_parameters(model)["total"],
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "results": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or tmp
        os.makedirs(workdir, exist_ok=True)
        for name in args.backends:
            try:
                backend = _make_backend(name, model, args, workdir)
            except Exception as e:  # a runtime that cannot run here is reported, not fatal
                report["results"][name] = {"skipped": f"{type(e).__name__}: {e}"}
                print(f"[benchmark] {name}: skipped ({e})")
                continue
            report["results"][name] = benchmark_backend(backend, args)
            for key, r in report["results"][name].items():
                print(f"[benchmark] {name:12s} {key:8s} model {r['model']['median_ms']:8.1f} ms "
                      f"(p90 {r['model']['p90_ms']:.1f}), pre {r['preprocess']['median_ms']:.1f} ms, "
                      f"post {r['postprocess']['median_ms']:.1f} ms, {r['throughput_ips']:.1f} img/s")
    eager = report["results"].get("eager", {}).get("batch_1", {}).get("model")
    for name, res in report["results"].items():
        if eager and "batch_1" in res:
            res["batch_1"]["ratio_to_eager"] = res["batch_1"]["model"]["median_ms"] / eager["median_ms"]
    text = json.dumps(report, indent=2)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print(f"[benchmark] wrote {args.output}")
    else:
        print(text)
    return report
