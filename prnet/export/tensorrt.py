"""TensorRT engines from the exported ONNX graph (``tensorrt`` Python API, 8.6 and 10.x) and a runner.

Precision ``fp32``, ``fp16`` or ``int8`` (entropy calibration on images drawn from a registered
Detectron2 dataset, resized like the test mapper and padded to a square; FP16 stays enabled as a
fallback for layers INT8 does not cover). The engine has one optimisation profile over
``images (batch, 3, H, W)`` between ``min_shape`` and ``max_shape``.

Everything here needs a CUDA device and the ``tensorrt`` package; without them
:func:`require_tensorrt` raises :class:`TensorRTUnavailable` with the reason (the tests skip on it).
Only :func:`calibration_batches` runs anywhere (it is plain PyTorch).
"""
from __future__ import annotations

import json
import logging
import os
from typing import Sequence

import torch
from .backend import Backend
from .calibration import calibration_batches
from .metadata import metadata_path, read_metadata

__all__ = [
    "TRT_MAX_TOPK",
    "TensorRTUnavailable",
    "TensorRTBackend",
    "build_engine",
    "calibration_batches",
    "require_tensorrt",
    "tensorrt_unavailable_reason",
]

logger = logging.getLogger(__name__)

#: TensorRT's TopK layer accepts K <= 3840: NMS graphs for TensorRT need ``topk <= 3840``.
TRT_MAX_TOPK = 3840


class TensorRTUnavailable(RuntimeError):
    """No CUDA device or no ``tensorrt`` package."""


def tensorrt_unavailable_reason() -> str | None:
    """Why TensorRT cannot run here, or ``None`` if it can."""
    if not torch.cuda.is_available():
        return "TensorRT needs a CUDA device and torch.cuda.is_available() is False"
    try:
        import tensorrt  # noqa: F401
    except ImportError as e:
        return f"the tensorrt package is not installed ({e}); pip install tensorrt"
    return None


def require_tensorrt():
    """Return the ``tensorrt`` module or raise :class:`TensorRTUnavailable` with the reason."""
    reason = tensorrt_unavailable_reason()
    if reason is not None:
        raise TensorRTUnavailable(reason)
    import tensorrt

    return tensorrt


def _make_calibrator(trt, batches: list[torch.Tensor], cache_file: str | None):
    class _EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        """Feeds the calibration batches from device memory; caches the scales if asked."""

        def __init__(self):
            super().__init__()
            self.batches = batches
            self.index = 0
            self.current = None

        def get_batch_size(self):
            return int(self.batches[0].shape[0])

        def get_batch(self, names):
            if self.index >= len(self.batches):
                return None
            self.current = self.batches[self.index].cuda().contiguous()
            self.index += 1
            return [int(self.current.data_ptr())]

        def read_calibration_cache(self):
            if cache_file and os.path.isfile(cache_file):
                with open(cache_file, "rb") as f:
                    return f.read()
            return None

        def write_calibration_cache(self, cache):
            if cache_file:
                with open(cache_file, "wb") as f:
                    f.write(cache)

    return _EntropyCalibrator()


def build_engine(
    onnx_path: str,
    engine_path: str,
    *,
    precision: str = "fp16",
    min_shape: Sequence[int] = (1, 3, 320, 320),
    opt_shape: Sequence[int] = (1, 3, 640, 640),
    max_shape: Sequence[int] = (8, 3, 1280, 1280),
    workspace_gib: float = 4.0,
    calib_dataset: str | None = None,
    calib_images: int = 64,
    calib_batch: int = 8,
    calib_cache: str | None = None,
) -> str:
    """Parse ``onnx_path`` (from :func:`prnet.export.export_onnx`), build and save an engine.

    INT8 needs ``calib_dataset`` (a registered dataset name) or an existing ``calib_cache``;
    calibration images are ``opt_shape``'s size. Writes the sidecar ``<engine>.json``.
    """
    trt = require_tensorrt()
    if precision not in ("fp32", "fp16", "int8"):
        raise ValueError(f"precision must be fp32, fp16 or int8, got {precision!r}")
    meta = read_metadata(onnx_path)
    if meta["with_nms"] and meta["topk_candidates"] > TRT_MAX_TOPK:
        raise ValueError(
            f"{onnx_path}: the NMS graph keeps topk={meta['topk_candidates']} candidates but "
            f"TensorRT's TopK allows at most {TRT_MAX_TOPK}; re-export with --topk {TRT_MAX_TOPK}"
        )
    log = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(log)
    flags = 0
    if int(trt.__version__.split(".")[0]) < 10:  # explicit batch is the only mode from 10 on
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, log)
    if not parser.parse_from_file(os.fspath(onnx_path)):
        errors = "\n".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}:\n{errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    profile = builder.create_optimization_profile()
    profile.set_shape("images", tuple(min_shape), tuple(opt_shape), tuple(max_shape))
    config.add_optimization_profile(profile)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        if calib_dataset is None and not (calib_cache and os.path.isfile(calib_cache)):
            raise ValueError("int8 needs calib_dataset (a registered dataset) or calib_cache")
        batches = []
        if calib_dataset is not None:
            size = int(max(opt_shape[2], opt_shape[3]))
            batches = list(
                calibration_batches(
                    calib_dataset, calib_images, size, calib_batch, meta.get("pixel_mean", (0, 0, 0))
                )
            )
            # TensorRT calibrates with one batch size: drop a short last batch
            if len(batches) > 1 and batches[-1].shape[0] != batches[0].shape[0]:
                batches = batches[:-1]
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = _make_calibrator(trt, batches, calib_cache)
        calib_profile = builder.create_optimization_profile()
        shape = tuple(batches[0].shape) if batches else tuple(opt_shape)
        calib_profile.set_shape("images", shape, shape, shape)
        config.set_calibration_profile(calib_profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path} (see its log)")
    os.makedirs(os.path.dirname(os.path.abspath(engine_path)), exist_ok=True)
    with open(engine_path, "wb") as f:
        f.write(serialized)
    meta.update(
        format="tensorrt",
        precision=precision,
        onnx=os.path.basename(onnx_path),
        profile={"min": list(min_shape), "opt": list(opt_shape), "max": list(max_shape)},
        tensorrt_version=trt.__version__,
    )
    with open(metadata_path(engine_path), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    logger.info("wrote %s (%s)", engine_path, precision)
    return engine_path


_TRT_TO_TORCH = {
    "FLOAT": torch.float32,
    "HALF": torch.float16,
    "INT32": torch.int32,
    "INT64": torch.int64,
    "INT8": torch.int8,
    "BOOL": torch.bool,
}


class TensorRTBackend(Backend):
    """Run a serialized engine on CUDA tensors (``execute_async_v3`` on torch's current stream).

    Integer outputs come back as int64 whatever the engine uses (TensorRT < 10 has no int64).
    """

    name = "tensorrt"

    def __init__(self, path: str, device: str | torch.device = "cuda", meta: dict | None = None):
        trt = require_tensorrt()
        super().__init__(meta or read_metadata(path), device)
        if self.device.type != "cuda":
            raise TensorRTUnavailable(f"TensorRT runs on CUDA devices, got {self.device}")
        self._log = trt.Logger(trt.Logger.WARNING)
        with open(path, "rb") as f:
            self.engine = trt.Runtime(self._log).deserialize_cuda_engine(f.read())
        if self.engine is None:
            raise RuntimeError(f"could not deserialize {path} (TensorRT version or GPU mismatch?)")
        self.context = self.engine.create_execution_context()
        self._dtypes = {
            name: _TRT_TO_TORCH[self.engine.get_tensor_dtype(name).name] for name in self.output_names
        }

    @torch.no_grad()
    def __call__(self, images):
        with torch.cuda.device(self.device):
            images = images.to(self.device, torch.float32).contiguous()
            self.context.set_input_shape("images", tuple(images.shape))
            self.context.set_tensor_address("images", images.data_ptr())
            outputs = {}
            for name in self.output_names:
                shape = tuple(self.context.get_tensor_shape(name))
                out = torch.empty(shape, dtype=self._dtypes[name], device=self.device)
                self.context.set_tensor_address(name, out.data_ptr())
                outputs[name] = out
            stream = torch.cuda.current_stream(self.device)
            if not self.context.execute_async_v3(stream.cuda_stream):
                raise RuntimeError("TensorRT execution failed")
            stream.synchronize()
        return {
            k: v.long() if not v.is_floating_point() else v.float() for k, v in outputs.items()
        }

