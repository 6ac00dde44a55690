"""Model size, FLOPs and latency: the numbers behind tools/analyze_model.py and tools/benchmark.py.

FLOP conventions (all reported as GFLOPs = 2 x multiply-adds, at batch 1):

* ``conv``: convolutions only. This is the convention of the PRNet paper and of Ultralytics' model
  summary for everything but BatchNorm (reference: PRNet-s 44.16, PRNet-L 194.8 at 640x640).
* ``conv_bn``: ``conv`` plus BatchNorm counted as 2 multiply-adds per output element (the thop counter
  used by Ultralytics; the paper's "44.9" for PRNet-s).
* ``fvcore``: everything fvcore's counter supports (conv, BatchNorm at 1 multiply-add per element,
  attention matmuls, upsampling), times 2.

Only the dense network is counted (backbone, neck, head); pre-processing, box decoding and NMS are not.
"""
from __future__ import annotations

import platform
import statistics
import time
from typing import Callable

import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn

__all__ = [
    "DenseForward",
    "cpu_name",
    "count_by_part",
    "count_parameters",
    "count_flops",
    "matmul_gflops",
    "summarize_times",
    "time_function",
]


class DenseForward(nn.Module):
    """A detector's backbone + head on an already normalised, padded ``(N, 3, H, W)`` tensor."""

    def __init__(self, detector: nn.Module):
        super().__init__()
        self.detector = detector

    def forward(self, x: torch.Tensor):
        features = self.detector.backbone(x)
        return self.detector.head([features[f] for f in self.detector.head_in_features])


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Unfused parameter counts (BatchNorm affine parameters included, buffers excluded)."""
    params = list(model.parameters())
    return {
        "total": sum(p.numel() for p in params),
        "trainable": sum(p.numel() for p in params if p.requires_grad),
    }


@torch.no_grad()
def count_flops(detector: nn.Module, height: int = 640, width: int = 640) -> dict[str, float]:
    """GFLOPs of the dense network at one ``height x width`` image, in the three conventions above."""
    was_training = detector.training
    detector.eval()
    device = next(detector.parameters()).device
    analysis = FlopCountAnalysis(DenseForward(detector), (torch.zeros(1, 3, height, width, device=device),))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    by_op = analysis.by_operator()
    detector.train(was_training)
    conv, bn = by_op.get("conv", 0), by_op.get("batch_norm", 0)
    return {
        "conv": 2 * conv / 1e9,
        "conv_bn": 2 * (conv + 2 * bn) / 1e9,
        "fvcore": 2 * analysis.total() / 1e9,
    }


def _parts(detector: nn.Module) -> dict[str, str]:
    """``{part: module path in DenseForward}``: the backbone proper (a neck's ``bottom_up``), the
    neck (the rest of ``detector.backbone``) and the head."""
    if hasattr(detector.backbone, "bottom_up"):
        return {"backbone": "detector.backbone.bottom_up", "neck": "detector.backbone",
                "head": "detector.head"}  # fmt: skip
    return {"backbone": "detector.backbone", "head": "detector.head"}


@torch.no_grad()
def count_by_part(detector: nn.Module, height: int = 640, width: int = 640) -> dict[str, dict]:
    """Parameters and conv GFLOPs (the ``conv`` convention) of backbone, neck and head separately:
    ``{"backbone": {"params", "gflops"}, "neck": {...}, "head": {...}}``. A neck wrapping
    ``bottom_up`` (``PRN``, ``FPN``, ``PAN``) is counted without it; a detector whose backbone has
    no ``bottom_up`` has no "neck" entry."""
    was_training = detector.training
    detector.eval()
    device = next(detector.parameters()).device
    analysis = FlopCountAnalysis(DenseForward(detector), (torch.zeros(1, 3, height, width, device=device),))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    by_module = analysis.by_module_and_operator()
    detector.train(was_training)
    modules = dict(DenseForward(detector).named_modules())
    result = {}
    for part, path in _parts(detector).items():
        params = sum(p.numel() for p in modules[path].parameters())
        conv = by_module.get(path, {}).get("conv", 0)
        result[part] = {"params": params, "gflops": 2 * conv / 1e9}
    if "neck" in result:  # the neck's module contains bottom_up
        for key in ("params", "gflops"):
            result["neck"][key] -= result["backbone"][key]
    return result


def time_function(
    fn: Callable[[], object],
    warmup: int = 5,
    iters: int = 20,
    sync: Callable[[], None] | None = None,
    cuda_events: bool = False,
) -> dict:
    """Latency of ``fn()`` in milliseconds after ``warmup`` calls: median, p10, p90, mean, min,
    max, the spread (p90 / median) and the samples (:func:`summarize_times`).

    Wall clock, with ``sync`` (e.g. ``torch.cuda.synchronize``) after each call so GPU work is
    included; or, with ``cuda_events``, the GPU time between CUDA events recorded around each call
    on the current stream (no host timer jitter).
    """
    sync = sync or (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(iters):
        if cuda_events:
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            fn()
            end.record()
            end.synchronize()
            times.append(begin.elapsed_time(end))
            continue
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return summarize_times(times, warmup)


def summarize_times(times_ms: list[float], warmup: int = 0) -> dict:
    """Median, p10, p90, mean, min, max and spread (p90 / median) of latencies in milliseconds,
    with the samples themselves (``samples_ms``, in the order measured) so that runs can be
    pooled (``tools/benchmark.py --rounds``)."""
    times = sorted(times_ms)
    median = statistics.median(times)
    p90 = _percentile(times, 0.9)
    return {
        "median_ms": median,
        "p90_ms": p90,
        "p10_ms": _percentile(times, 0.1),
        "mean_ms": statistics.fmean(times),
        "min_ms": times[0],
        "max_ms": times[-1],
        # spread: p90 over median; a quiet machine stays near 1, > 1.5 means the numbers are noisy
        "spread": p90 / median if median > 0 else float("nan"),
        "iters": len(times),
        "warmup": warmup,
        "samples_ms": list(times_ms),
    }


@torch.no_grad()
def matmul_gflops(device: str | torch.device = "cpu", size: int = 4096, repeats: int = 5) -> float:
    """The float32 matrix-multiply rate this machine reaches (GFLOP/s, best of ``repeats``
    ``size``-square products, torch's current thread count): what well-tuned convolutions can
    approach, so model GFLOPs over it is a floor for a float32 runtime's latency."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    a @ b
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def _percentile(sorted_times: list[float], q: float) -> float:
    return sorted_times[min(len(sorted_times) - 1, int(round(q * (len(sorted_times) - 1))))]


def cpu_name() -> str:
    """The CPU model, for benchmark reports (``/proc/cpuinfo`` on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
