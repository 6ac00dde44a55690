"""Latency and throughput of a prnet model on every runtime, written as JSON.

    python tools/benchmark.py --config-file configs/PRNet/prnet_s.py --size 640 --batch 1 8 \
        --backends eager eager_fused onnxruntime openvino openvino_int8 \
        --output output/benchmark/prnet_s_640.json

Runtimes: ``eager`` (PyTorch), ``eager_fused`` (BatchNorm folded into the convs), ``torchscript``,
``onnxruntime``, ``onnxruntime_int8`` (static QDQ), ``openvino`` (FP32 IR, float32 compute),
``openvino_bf16`` (same IR, bfloat16 compute where the CPU has it), ``openvino_int8`` (NNCF),
``tensorrt``. INT8 files are calibrated on ``--calib-images`` images of ``--calib-dataset``.

For each runtime and batch size, after ``--warmup`` runs, the median, p10/p90 and the spread
(p90 / median; a warning above 1.5: the machine was busy) over ``--iters`` runs of:

* ``preprocess``: resize ``--source-size`` RGB frames so the long side is ``--size`` and batch them
  (what ``prnet.inference.Predictor`` does on the host);
* ``model``: the exported graph on the batch (normalisation, padding, backbone, neck, head and box
  decoding; NMS too with ``--nms``), synchronised on GPU;
* ``postprocess``: score threshold, top-k and class-aware NMS on the host (graphs without NMS),
  rescaling to the source frame.

``pipeline`` (batch 1): one ``--source-size`` JPEG read from disk and decoded, pre-processed, run
and post-processed, as ``prnet.inference.Predictor`` does for a video frame or a file;
``pipeline_over_model`` compares it to the model step; ``decode`` times the reading and decoding
alone (with ``preprocess`` and ``postprocess``, what the pipeline adds to the model step). ``throughput_ips`` is images per second
of the model step.

A shared machine drifts by tens of percent within minutes, more than the differences between
runtimes. So every runtime is timed ``--rounds`` times, interleaved (all runtimes once, then all
again): a drift reaches every runtime alike. Timing statistics pool the samples of all rounds
(``samples_ms`` keeps them); ``ratio_to_eager`` and ``pipeline_over_model`` are the medians of the
per-round ratios, which are listed beside them (``*_by_round``).

``compute``: the conv GFLOPs of the batch-1 model step, the float32 matrix-multiply rate of this
machine (torch, same threads) and their quotient ``floor_ms``, the time the convolutions alone take
at that rate; ``conv_gflops_per_s`` of each runtime says how close it gets (INT8 and bf16 runtimes
can pass it: the floor is for float32). ``--layer-profile N`` adds, for OpenVINO runtimes, the N
slowest layers and the time of each layer type and kernel (OpenVINO's per-layer counters). The eager runtime runs the same
``DeployableDetector`` that is traced for TorchScript/ONNX/TensorRT, so the numbers compare like
with like. Runtimes that cannot run here (TensorRT without CUDA) are reported with the reason.
Weights do not change the timings much (NMS does see more candidates with a trained model); pass
``--weights`` to time a trained checkpoint.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile

from prnet.cli.errors import exits_on_user_error

__all__ = ["BACKENDS", "benchmark_backend", "get_parser", "main", "parse_args", "pool_rounds"]

BACKENDS = (
    "eager", "eager_fused", "torchscript", "onnxruntime", "onnxruntime_int8",
    "openvino", "openvino_bf16", "openvino_int8", "tensorrt",
)  # fmt: skip
DEFAULT_BACKENDS = ("eager", "eager_fused", "torchscript", "onnxruntime", "onnxruntime_int8",
                    "openvino", "openvino_int8", "tensorrt")  # fmt: skip
NOISY_SPREAD = 1.5  # p90 / median above this: the timings are not to be trusted


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tools/benchmark.py", description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--weights", default="", help="checkpoint (EMA weights preferred)")
    parser.add_argument("--size", type=int, default=640, help="long side of the model input")
    parser.add_argument("--source-size", type=int, nargs=2, default=[1080, 1920], metavar=("H", "W"))
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--backends", nargs="+", default=list(DEFAULT_BACKENDS), choices=BACKENDS)
    parser.add_argument("--nms", action="store_true", help="time graphs with NMS inside")
    parser.add_argument("--device", help="default: cuda when available, else cpu")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20, help="timed runs per step and round")
    parser.add_argument("--rounds", type=int, default=3,
                        help="time every runtime this many times, interleaved (A B C, A B C, ...)")  # fmt: skip
    parser.add_argument("--no-export-form", action="store_true",
                        help="export the model as it is, not prnet.layers.to_export_form of it")  # fmt: skip
    parser.add_argument("--layer-profile", type=int, default=0, metavar="N",
                        help="OpenVINO runtimes: add the N slowest layers (per-layer counters)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--workdir", default=None, help="where exported files go (default: temp)")
    parser.add_argument("--calib-dataset", default="synthetic_aerial_demo_train",
                        help="registered dataset for INT8 calibration")  # fmt: skip
    parser.add_argument("--calib-images", type=int, default=16)
    parser.add_argument("--output", help="JSON file to write (default: print only)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="key=value config overrides")
    return parser


def parse_args(argv=None):
    parser = get_parser()
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.iters < 1:
        parser.error(f"--rounds and --iters must be at least 1 (got {args.rounds}, {args.iters})")
    return args


def _make_backend(name, model, args, workdir):
    """The runtime ``name`` for ``model``, exporting it first where needed (one ONNX file is shared
    by ONNX Runtime, its INT8 version and OpenVINO)."""
    from prnet.export import (
        EagerBackend,
        convert_onnx_to_openvino,
        export_model,
        load_exported,
        openvino_unavailable_reason,
        tensorrt_unavailable_reason,
    )
    from prnet.export.onnx_int8 import quantize_onnx_int8

    if name in ("eager", "eager_fused"):
        return EagerBackend(model, with_nms=args.nms, fuse=name == "eager_fused")
    trace = dict(with_nms=args.nms, trace_size=(1, args.size, args.size), verify_size=None,
                 export_form=not args.no_export_form)  # fmt: skip
    if name == "torchscript":
        path = export_model(model, "torchscript", os.path.join(workdir, "model.ts"), **trace)
        return load_exported(path, device=args.device)
    if name == "tensorrt":
        if tensorrt_unavailable_reason():
            raise RuntimeError(tensorrt_unavailable_reason())
        max_shape = (max(args.batch), 3, args.size, args.size)
        path = export_model(model, "tensorrt", os.path.join(workdir, "model.engine"),
                            max_shape=max_shape, **trace)  # fmt: skip
        return load_exported(path, device=args.device)
    onnx_path = os.path.join(workdir, "model.onnx")
    if not os.path.exists(onnx_path):
        export_model(model, "onnx", onnx_path, **trace)
    calib = dict(calib_dataset=args.calib_dataset, calib_images=args.calib_images,
                 image_size=args.size)  # fmt: skip
    if name == "onnxruntime":
        return load_exported(onnx_path, device=args.device)
    if name == "onnxruntime_int8":
        path = quantize_onnx_int8(onnx_path, os.path.join(workdir, "model_int8.onnx"), **calib)
        return load_exported(path, device=args.device)
    reason = openvino_unavailable_reason("int8" if name == "openvino_int8" else "fp32")
    if reason:
        raise RuntimeError(reason)
    if name == "openvino_int8":
        path = convert_onnx_to_openvino(onnx_path, os.path.join(workdir, "model_int8.xml"),
                                        precision="int8", **calib)  # fmt: skip
        return load_exported(path)
    path = os.path.join(workdir, "model_fp32.xml")
    if not os.path.exists(path):
        convert_onnx_to_openvino(onnx_path, path, precision="fp32")
    return load_exported(path, inference_precision="bf16" if name == "openvino_bf16" else "f32")


def write_test_frame(path: str, height: int, width: int) -> str:
    """A JPEG the size of a video frame with smooth structure and fine texture (decoding cost
    depends on content: pure noise would be an unusually expensive frame)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    frame = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    frame += rng.integers(-12, 13, frame.shape, dtype=np.int16)
    rgb = np.clip(frame, 0, 255).astype(np.uint8)
    cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def _frame_batch(backend, args, frame_path: str):
    """The batch-1 model input of the frame, as :func:`benchmark_backend` times it."""
    from prnet.data.image_io import read_image_rgb
    from prnet.inference import Predictor, batch_images

    predictor = Predictor(backend, image_size=args.size, batch_size=1)
    return batch_images([predictor.resize(read_image_rgb(frame_path))], predictor.pad_value)


def benchmark_backend(backend, args, frame_path: str) -> dict:
    import torch
    from detectron2.modeling.postprocessing import detector_postprocess

    from prnet.analysis import time_function
    from prnet.data.image_io import read_image_rgb
    from prnet.export import outputs_to_instances
    from prnet.inference import Predictor, batch_images

    predictor = Predictor(backend, image_size=args.size, batch_size=max(args.batch))
    frame = read_image_rgb(frame_path)
    h, w = frame.shape[:2]
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

        cuda = backend.device.type == "cuda"
        model_time = time_function(model_step, args.warmup, args.iters, sync, cuda_events=cuda)
        results[f"batch_{batch}"] = {
            "preprocess": time_function(preprocess, 1, max(3, args.iters // 4)),
            "model": model_time,
            "postprocess": time_function(postprocess, 1, max(3, args.iters // 4)),
            "throughput_ips": batch / (model_time["median_ms"] / 1e3),
        }
        if batch == 1:  # the whole frame pipeline: read + decode, pre-process, model, post-process
            pipeline = time_function(lambda: predictor(read_image_rgb(frame_path)),
                                     max(1, args.warmup // 2), args.iters, sync)  # fmt: skip
            results["batch_1"]["decode"] = time_function(lambda: read_image_rgb(frame_path), 1,
                                                         max(3, args.iters // 4))  # fmt: skip
            results["batch_1"]["pipeline"] = pipeline
            results["batch_1"]["pipeline_over_model"] = pipeline["median_ms"] / model_time["median_ms"]
    return results


def compute_floor(model, args) -> dict:
    """Conv GFLOPs of the batch-1 model step (the ``--source-size`` frame resized and padded as the
    graph pads it), this machine's float32 matmul rate and their quotient, ``floor_ms``: no
    float32 runtime runs the convolutions alone faster than about that."""
    import numpy as np

    from prnet.analysis import count_flops, matmul_gflops
    from prnet.data.augment import resize_long_side
    from prnet.export.graph import DeployableDetector

    resized, _ = resize_long_side(np.zeros((*args.source_size, 3), np.uint8), args.size)
    step = DeployableDetector(model).size_divisibility
    hw = [-(-int(n) // step) * step for n in resized.shape[:2]]
    gflops = count_flops(model, *hw)["conv"]
    rate = matmul_gflops(args.device)
    return {"input_hw": hw, "conv_gflops": gflops, "matmul_gflops_per_s": rate,
            "floor_ms": gflops / rate * 1e3}  # fmt: skip


def pool_rounds(rounds: list[dict], eager_rounds: list[dict] | None = None) -> dict:
    """One runtime's per-round results (:func:`benchmark_backend`) -> one: every step's samples
    pooled; per-round ratios (frame pipeline over model step; batch-1 model step over eager's in
    the same round when ``eager_rounds`` is given) and their median."""
    from prnet.analysis import summarize_times

    pooled = {}
    for key, first in rounds[0].items():
        result = {
            step: summarize_times([t for r in rounds for t in r[key][step]["samples_ms"]], v["warmup"])
            for step, v in first.items()
            if isinstance(v, dict)
        }
        result["throughput_ips"] = int(key.split("_")[1]) / (result["model"]["median_ms"] / 1e3)
        ratios = {}
        if "pipeline" in result:
            ratios["pipeline_over_model"] = [r[key]["pipeline_over_model"] for r in rounds]
        if eager_rounds and key == "batch_1":
            ratios["ratio_to_eager"] = [
                r[key]["model"]["median_ms"] / e[key]["model"]["median_ms"]
                for r, e in zip(rounds, eager_rounds)
            ]
        for name, values in ratios.items():
            result[name] = statistics.median(values)
            result[f"{name}_by_round"] = values
        pooled[key] = result
    return pooled


def _print_summary(name: str, result: dict) -> None:
    for key, r in result.items():
        if not key.startswith("batch_"):
            continue
        line = (f"[benchmark] {name:16s} {key:8s} model {r['model']['median_ms']:8.1f} ms "
                f"(p90 {r['model']['p90_ms']:.1f}), pre {r['preprocess']['median_ms']:.1f} ms, "
                f"post {r['postprocess']['median_ms']:.1f} ms, {r['throughput_ips']:.1f} img/s")  # fmt: skip
        if "pipeline" in r:
            line += f", frame pipeline {r['pipeline']['median_ms']:.1f} ms"
        if "ratio_to_eager" in r:
            line += f", {r['ratio_to_eager']:.2f}x eager"
        print(line)


def _noisy(results: dict) -> list[str]:
    """``runtime/batch/step`` of every timing whose p90 is more than NOISY_SPREAD x its median."""
    return [
        f"{name}/{key}/{step}"
        for name, res in results.items()
        for key, r in res.items()
        if isinstance(r, dict)
        for step in ("model", "pipeline")
        if step in r and r[step]["spread"] > NOISY_SPREAD
    ]


@exits_on_user_error
def main(argv=None):
    args = parse_args(argv)
    import torch

    from prnet.analysis import count_parameters, cpu_name
    from prnet.modeling.build import build_model

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
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
        "rounds": args.rounds,
        "compute": compute_floor(model, args),
        "results": {},
    }
    compute = report["compute"]
    print(f"[benchmark] batch 1 at {compute['input_hw']}: {compute['conv_gflops']:.1f} conv GFLOPs; "
          f"float32 matmul here {compute['matmul_gflops_per_s']:.0f} GFLOP/s -> floor "
          f"{compute['floor_ms']:.1f} ms")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or tmp
        os.makedirs(workdir, exist_ok=True)
        frame_path = write_test_frame(os.path.join(workdir, "frame.jpg"), *args.source_size)
        backends = {}
        for name in args.backends:
            try:
                backends[name] = _make_backend(name, model, args, workdir)
            except Exception as e:  # a runtime that cannot run here is reported, not fatal
                report["results"][name] = {"skipped": f"{type(e).__name__}: {e}"}
                print(f"[benchmark] {name}: skipped ({e})")
        rounds = {name: [] for name in backends}
        for i in range(args.rounds):
            for name, backend in backends.items():
                rounds[name].append(benchmark_backend(backend, args, frame_path))
                steps = ", ".join(f"{key} model {r['model']['median_ms']:.1f} ms"
                                  for key, r in rounds[name][-1].items())  # fmt: skip
                print(f"[benchmark] round {i + 1}/{args.rounds} {name}: {steps}")
        for name, backend in backends.items():
            result = report["results"][name] = pool_rounds(rounds[name], rounds.get("eager"))
            if "batch_1" in result:
                b1 = result["batch_1"]
                b1["conv_gflops_per_s"] = compute["conv_gflops"] / (b1["model"]["median_ms"] / 1e3)
            _print_summary(name, result)
            if args.layer_profile and hasattr(backend, "layer_profile"):
                images = _frame_batch(backend, args, frame_path)
                result["layer_profile"] = backend.layer_profile(images, top=args.layer_profile)
    report["noisy"] = _noisy(report["results"])
    if report["noisy"]:
        print(f"[benchmark] WARNING: p90 > {NOISY_SPREAD} x median for {', '.join(report['noisy'])}: "
              "the machine was busy; close other work and run again before trusting the ratios")  # fmt: skip
    text = json.dumps(report, indent=2)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print(f"[benchmark] wrote {args.output}")
    else:
        print(text)
    return report
