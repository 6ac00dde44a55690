"""OpenVINO IR files of the exported ONNX graph, INT8 by post-training quantisation, and a runtime.

The optional ``openvino`` package (``pip install prnet[openvino]``; ``nncf`` for INT8) converts the
ONNX file of :func:`prnet.export.export_onnx` into its IR (``.xml`` + ``.bin``): FP32, FP16
(weights stored in half precision, ``compress_to_fp16``) or INT8 (NNCF's post-training
quantisation with calibration images drawn from a registered dataset, exactly as the test mapper
resizes them). Dynamic batch and image size are kept from the ONNX graph. The runtime compiles the
IR for the CPU with the ``LATENCY`` (batch 1) or ``THROUGHPUT`` hint, computing in float32
unless told otherwise: on CPUs with bfloat16 units OpenVINO's own default is bf16, which moved
raw scores by up to 0.03 in the export test: no longer "the same model" as the eager one.
"""
from __future__ import annotations

import json
import logging
import os

import numpy as np
import torch

from .backend import Backend
from .calibration import calibration_batches
from .metadata import EMBEDDED_KEY, metadata_path, read_metadata

__all__ = [
    "OPENVINO_PRECISIONS",
    "OpenVINOBackend",
    "OpenVINOUnavailable",
    "convert_onnx_to_openvino",
    "openvino_unavailable_reason",
]

logger = logging.getLogger(__name__)

OPENVINO_PRECISIONS = ("fp32", "fp16", "int8")


class OpenVINOUnavailable(RuntimeError):
    """The ``openvino`` package (or ``nncf`` for INT8) is not installed."""


def openvino_unavailable_reason(precision: str = "fp32") -> str | None:
    """Why OpenVINO (with ``precision``) cannot run here, or ``None`` if it can."""
    try:
        import openvino  # noqa: F401
    except ImportError as e:
        return f"the openvino package is not installed ({e}); pip install prnet[openvino]"
    if precision == "int8":
        try:
            import nncf  # noqa: F401
        except ImportError as e:
            return f"INT8 needs the nncf package ({e}); pip install prnet[openvino]"
    return None


def _require(precision: str):
    reason = openvino_unavailable_reason(precision)
    if reason:
        raise OpenVINOUnavailable(reason)
    import openvino

    return openvino


def convert_onnx_to_openvino(
    onnx_path: str,
    output: str,
    precision: str = "fp32",
    calib_dataset: str | None = None,
    calib_images: int = 64,
    image_size: int = 640,
) -> str:
    """``onnx_path`` (with its sidecar) -> OpenVINO IR ``output`` (``.xml``, ``.bin`` beside it)
    and ``output``'s sidecar (format ``openvino``, the precision). INT8 needs ``calib_dataset``, a
    registered dataset; its images are resized to ``image_size`` on the long side."""
    if precision not in OPENVINO_PRECISIONS:
        raise ValueError(f"precision must be one of {OPENVINO_PRECISIONS}, got {precision!r}")
    ov = _require(precision)
    model = ov.convert_model(onnx_path)
    if precision == "int8":
        if not calib_dataset:
            raise ValueError("INT8 needs calibration images: pass calib_dataset=<registered name>")
        import nncf

        meta = read_metadata(onnx_path)
        batches = calibration_batches(
            calib_dataset, calib_images, image_size, batch_size=1, pad_value=meta["pixel_mean"]
        )
        dataset = nncf.Dataset([b.numpy() for b in batches])
        # PERFORMANCE: symmetric activations, the faster kernels (MIXED ran ~1.4x slower here)
        model = nncf.quantize(model, dataset, subset_size=calib_images,
                              preset=nncf.QuantizationPreset.PERFORMANCE)  # fmt: skip
    meta = read_metadata(onnx_path)
    meta.update(format="openvino", precision=precision, source_onnx=os.path.basename(onnx_path))
    if precision == "int8":
        meta.update(calib_dataset=calib_dataset, calib_images=calib_images)
    model.set_rt_info(json.dumps(meta), [EMBEDDED_KEY])  # the IR describes itself, as ONNX does
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    ov.save_model(model, output, compress_to_fp16=precision == "fp16")
    with open(metadata_path(output), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    return output


class OpenVINOBackend(Backend):
    """An OpenVINO IR compiled for the CPU. ``hint``: ``LATENCY`` (default, few streams, for batch
    1) or ``THROUGHPUT``; ``threads``: inference threads (default: OpenVINO's choice);
    ``inference_precision``: ``f32`` (default, matches eager PyTorch), ``bf16`` (faster where the
    CPU has bfloat16 units, less exact) or ``None`` for OpenVINO's default for the CPU."""

    name = "openvino"

    def __init__(
        self,
        path: str,
        device: str | torch.device = "cpu",
        meta: dict | None = None,
        hint: str = "LATENCY",
        threads: int | None = None,
        inference_precision: str | None = "f32",
    ):
        ov = _require("fp32")
        super().__init__(meta or read_metadata(path), device)
        self.path = path
        self.config = {"PERFORMANCE_HINT": hint}
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = int(threads)
        if inference_precision:
            self.config["INFERENCE_PRECISION_HINT"] = inference_precision
        self.compiled = ov.Core().compile_model(path, "CPU", self.config)
        self.request = self.compiled.create_infer_request()

    def __call__(self, images):
        array = np.ascontiguousarray(images.detach().float().cpu().numpy())
        results = self.request.infer({"images": array})
        return {
            name: torch.from_numpy(np.array(results[output])).to(self.device)
            for name, output in zip(self.output_names, self.compiled.outputs)
        }

    def layer_profile(self, images: torch.Tensor, iters: int = 5, top: int = 20) -> dict:
        """Where the time goes: OpenVINO's per-layer counters (``PERF_COUNT``, on a second
        compilation with this one's settings) over ``iters`` runs on ``images``, in ms per run:
        the ``top`` slowest layers (name, type, kernel) and the total of each layer type and kernel.
        A kernel named ``ref_*`` or a large ``Reorder`` is where a graph rewrite may pay."""
        import openvino as ov

        compiled = ov.Core().compile_model(self.path, "CPU", {**self.config, "PERF_COUNT": True})
        request = compiled.create_infer_request()
        inputs = {"images": np.ascontiguousarray(images.detach().float().cpu().numpy())}
        request.infer(inputs)
        layers, kinds = {}, {}
        for _ in range(iters):
            request.infer(inputs)
            for info in request.profiling_info:
                ms = info.real_time.total_seconds() * 1e3 / iters
                layer = (info.node_name, info.node_type, info.exec_type)
                layers[layer] = layers.get(layer, 0.0) + ms
                kind = f"{info.node_type} ({info.exec_type})"
                kinds[kind] = kinds.get(kind, 0.0) + ms

        def slowest(items, n=None):
            return sorted(items, key=lambda item: -item[1])[:n]

        return {
            "total_ms": sum(layers.values()),
            "by_type_ms": dict(slowest(kinds.items())),
            "slowest_layers": [
                {"name": name, "type": kind, "kernel": kernel, "ms": ms}
                for (name, kind, kernel), ms in slowest(layers.items(), top)
            ],
        }
