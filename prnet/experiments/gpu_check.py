"""The GPU path in one run (``scripts/gpu_check.sh``): AMP training iterations, DDP over every
visible GPU, an ONNX -> TensorRT FP16 engine checked against eager PyTorch, the benchmark JSON
timed with CUDA events at batch 1 and 32, and prnet's batched slicer against SAHI's loop. Each
step is recorded as ``passed``, ``failed`` (with the error) or ``skipped`` (with the reason) in
``<output>/gpu_check.json``; the exit code is non-zero if any step failed. Without a CUDA device
it says so and exits 0: nothing to check.

Sized for <= 5 minutes on one GPU: tiny synthetic data, PRNet-n at 128 px for training, PRNet-s
at 640 for the engine and the benchmark.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import traceback

import torch

__all__ = ["STEPS", "main", "run_steps"]


def _train_argv(out: str, gpus: int) -> list[str]:
    from prnet.utils.testing import repo_root

    return [
        "--config-file", os.path.join(repo_root(), "configs", "PRNet", "prnet_n.py"),
        "model.num_classes=7", "train.device=cuda", "train.amp.enabled=True",
        f"dataloader.train.total_batch_size={8 * gpus}", "dataloader.train.num_workers=2",
        "dataloader.test.num_workers=0", "dataloader.train.mapper.image_size=128",
        "dataloader.test.mapper.image_size=128", "train.max_iter=10", "train.epochs=10",
        "train.warmup_epochs=1", "train.eval_period=10", "train.checkpointer.period=10",
        "train.ema.enabled=False", "train.progress_bar=False", "train.data_check=off",
        f"train.output_dir={out}",
    ]  # fmt: skip


def _train(work: str, gpus: int) -> dict:
    from detectron2.engine import launch

    from prnet.utils.testing import train_on_tiny_data

    out = os.path.join(work, f"train_{gpus}gpu")
    launch(train_on_tiny_data, gpus, dist_url="auto",
           args=(os.path.join(work, "data"), "gpucheck", _train_argv(out, gpus)))  # fmt: skip
    with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    losses = [r["total_loss"] for r in records if "total_loss" in r]
    if not losses or not all(math.isfinite(v) for v in losses):
        raise AssertionError(f"training losses not finite: {losses}")
    if not os.path.exists(os.path.join(out, "model_final.pth")):
        raise AssertionError("no model_final.pth written")
    return {"gpus": gpus, "first_loss": losses[0], "last_loss": losses[-1], "output": out}


def step_amp_training(work: str, output_dir: str) -> dict:
    """A few AMP (float16) iterations on one GPU with the real trainer; losses finite."""
    return _train(work, 1)


def step_ddp(work: str, output_dir: str) -> dict:
    """The same on every visible GPU through Detectron2's ``launch`` (NCCL)."""
    gpus = torch.cuda.device_count()
    if gpus < 2:
        return {"skipped": f"{gpus} visible GPU: DDP needs 2 or more (the CPU test covers gloo)"}
    return _train(work, gpus)


def _prnet_s():
    from prnet.modeling.build import build_model
    from prnet.utils.testing import repo_root

    config = os.path.join(repo_root(), "configs", "PRNet", "prnet_s.py")
    return build_model(config, None, ["model.num_classes=7"], device="cuda").eval()


def step_tensorrt_fp16(work: str, output_dir: str) -> dict:
    """ONNX -> TensorRT FP16 engine of PRNet-s (NMS in the graph), compared with eager PyTorch
    at another size with the FP16 tolerances of ``verify_export`` (set-matched detections)."""
    from prnet.export import export_model, tensorrt_unavailable_reason

    reason = tensorrt_unavailable_reason()
    if reason:
        return {"skipped": reason}
    path = os.path.join(work, "prnet_s_fp16.engine")
    start = time.perf_counter()
    export_model(_prnet_s(), "tensorrt", path, with_nms=True, trace_size=(1, 640, 640),
                 verify_size=(2, 480, 352), topk=1000, precision="fp16",
                 max_shape=(32, 3, 640, 640))  # fmt: skip  (TensorRT's NMS: top-k <= 3840)
    return {"engine": path, "build_and_verify_s": time.perf_counter() - start}


def step_benchmark(work: str, output_dir: str) -> dict:
    """``tools/benchmark.py`` on the GPU: eager, fused eager, ONNX Runtime, TensorRT; batch 1
    and 32; CUDA-event timings, one round (a GPU's timings do not drift like a shared CPU's)."""
    from prnet.cli import benchmark
    from prnet.utils.testing import repo_root

    out = os.path.join(output_dir, "benchmark_prnet_s_640_cuda.json")
    argv = ["--config-file", os.path.join(repo_root(), "configs", "PRNet", "prnet_s.py"),
            "--size", "640", "--batch", "1", "32", "--device", "cuda", "--iters", "30", "--rounds", "1",
            "--backends", "eager", "eager_fused", "onnxruntime", "tensorrt",
            "--workdir", os.path.join(work, "bench"), "--output", out]  # fmt: skip
    report = benchmark.main(argv)
    return {"json": out, "batch_1_ms": {k: v["batch_1"]["model"]["median_ms"]
                                        for k, v in report["results"].items() if "batch_1" in v}}


def step_slicing(work: str, output_dir: str) -> dict:
    """prnet's batched slicer against SAHI's loop on the GPU (TorchScript PRNet-s, 3840x2160
    synthetic frame, 640 tiles, batches of 16): time and detection agreement."""
    try:
        import sahi  # noqa: F401
    except ImportError as e:
        return {"skipped": f"SAHI is not installed ({e})"}
    from prnet.export import export_model
    from prnet.experiments.slicing_benchmark import benchmark_slicing, synthetic_frame

    path = export_model(_prnet_s(), "torchscript", os.path.join(work, "prnet_s.ts"),
                        trace_size=(1, 640, 640), verify_size=None)  # fmt: skip
    out = os.path.join(output_dir, "slicing_prnet_s_3840x2160_cuda.json")
    report = benchmark_slicing(path, synthetic_frame(2160, 3840), tile_batch=16, repeats=3,
                               output=out, device="cuda")  # fmt: skip
    return {"json": out, "speedup": report["speedup"], "detections": report["detections"]}


STEPS = {
    "amp_training": step_amp_training,
    "ddp": step_ddp,
    "tensorrt_fp16": step_tensorrt_fp16,
    "benchmark": step_benchmark,
    "slicing": step_slicing,
}


def run_steps(names, work: str, output_dir: str) -> dict:
    """Run the named steps, each isolated: a failure is recorded and the next step runs."""
    results = {}
    for name in names:
        start = time.perf_counter()
        print(f"[gpu_check] {name} ...", flush=True)
        try:
            detail = STEPS[name](work, output_dir)
            status = "skipped" if "skipped" in detail else "passed"
        except Exception as e:  # recorded, reported, and the exit code says it
            detail = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
            status = "failed"
        detail.update(status=status, seconds=round(time.perf_counter() - start, 1))
        results[name] = detail
        print(f"[gpu_check] {name}: {status} ({detail['seconds']} s)"
              + (f": {detail.get('skipped') or detail.get('error')}" if status != "passed" else ""),
              flush=True)  # fmt: skip
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="scripts/gpu_check.sh", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--output", default=os.environ.get("OUT") or "output/gpu_check")
    p.add_argument("--steps", nargs="+", choices=list(STEPS), default=list(STEPS))
    p.add_argument("--list", action="store_true", help="print the steps and exit")
    args = p.parse_args(argv)
    if args.list:
        for name, fn in STEPS.items():
            print(f"{name}: {fn.__doc__.split(chr(10))[0]}")
        return 0
    if not torch.cuda.is_available():
        print("[gpu_check] no CUDA device here (torch.cuda.is_available() is False): nothing to "
              "check. Run this script on a machine with an NVIDIA GPU.")  # fmt: skip
        return 0
    os.makedirs(args.output, exist_ok=True)
    info = {"device": torch.cuda.get_device_name(), "gpus": torch.cuda.device_count(),
            "torch": torch.__version__, "cuda": torch.version.cuda}  # fmt: skip
    print(f"[gpu_check] {info}", flush=True)
    with tempfile.TemporaryDirectory() as work:
        results = run_steps(args.steps, work, args.output)
    report = {"info": info, "steps": results}
    with open(os.path.join(args.output, "gpu_check.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    failed = [n for n, r in results.items() if r["status"] == "failed"]
    print(f"[gpu_check] wrote {os.path.join(args.output, 'gpu_check.json')}; "
          + (f"FAILED: {', '.join(failed)}" if failed else "no step failed"))  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
