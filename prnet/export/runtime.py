"""Run exported PRNet graphs behind one interface: ``backend(images) -> dict of tensors``.

Every backend takes ``images (N, 3, H, W)`` float32 RGB 0-255 (a torch tensor) and returns the
outputs of :mod:`prnet.export.graph` by name (``boxes``, ``scores`` and, for NMS graphs,
``classes``, ``num_detections``) as torch tensors. This is what ``tools/predict.py``, the
evaluation of exported models and a benchmark need: :func:`load_exported` for files,
:class:`EagerBackend` for the PyTorch reference.
"""
from __future__ import annotations

import copy
import os

import torch
from torch import nn

from .backend import Backend
from .graph import DeployableDetector
from .metadata import read_metadata
from .openvino import OpenVINOBackend
from .tensorrt import TensorRTBackend

__all__ = [
    "Backend",
    "EagerBackend",
    "OnnxRuntimeBackend",
    "TorchScriptBackend",
    "load_exported",
]


class EagerBackend(Backend):
    """The PyTorch model behind the same interface (the reference for parity and benchmarks);
    ``fuse=True`` runs a copy with BatchNorm folded into the convs (``PRNetDetector.fuse``) in the
    channels-last memory format (oneDNN/cuDNN convolutions skip their layout conversions)."""

    name = "eager"

    def __init__(
        self, model: nn.Module, with_nms: bool = False, fuse: bool = False, **wrapper_kwargs
    ):
        wrapper = model if isinstance(model, DeployableDetector) else None
        if wrapper is None:
            if fuse:  # BN folded into the convs, on a copy: the caller's model keeps its BNs
                model = copy.deepcopy(model).fuse().to(memory_format=torch.channels_last)
            wrapper = DeployableDetector(model.eval(), with_nms, **wrapper_kwargs)
        self.channels_last = fuse
        self.wrapper = wrapper.eval()
        super().__init__(wrapper.metadata(), next(wrapper.parameters()).device)

    @torch.no_grad()
    def __call__(self, images):
        images = images.to(self.device)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return dict(zip(self.output_names, self.wrapper(images)))


class TorchScriptBackend(Backend):
    name = "torchscript"

    def __init__(self, path: str, device: str | torch.device = "cpu", meta: dict | None = None):
        import torchvision  # noqa: F401  (registers torchvision::nms for NMS graphs)

        super().__init__(meta or read_metadata(path), device)
        self.module = torch.jit.load(path, map_location=self.device).eval()

    @torch.no_grad()
    def __call__(self, images):
        return dict(zip(self.output_names, self.module(images.to(self.device))))


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime session; CUDA provider first when ``device`` is CUDA and it is available."""

    name = "onnxruntime"

    def __init__(
        self,
        path: str,
        device: str | torch.device = "cpu",
        meta: dict | None = None,
        providers: list[str] | None = None,
        intra_op_threads: int | None = None,
    ):
        import onnxruntime as ort

        super().__init__(meta or read_metadata(path), device)
        if providers is None:
            providers = ["CPUExecutionProvider"]
            if self.device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
        self.session = ort.InferenceSession(path, options, providers=providers)
        self.output_names = tuple(o.name for o in self.session.get_outputs())

    def __call__(self, images):
        feed = {"images": images.detach().float().cpu().numpy()}
        outputs = self.session.run(list(self.output_names), feed)
        return {k: torch.from_numpy(v).to(self.device) for k, v in zip(self.output_names, outputs)}


def load_exported(path: str | os.PathLike, device: str | torch.device | None = None, **kwargs) -> Backend:
    """Open an exported file by its metadata's ``format``: TorchScript, ONNX (ONNX Runtime),
    OpenVINO IR, TensorRT engine. The metadata is the JSON sidecar, else the copy inside ONNX and
    TorchScript files. ``device`` defaults to CUDA for TensorRT and CPU otherwise; ``kwargs`` go
    to the backend (e.g. ``hint``/``threads`` for OpenVINO)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"exported file {path} does not exist")
    try:
        meta = read_metadata(path)
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f"{path}: the JSON sidecar {path}.json written by prnet.export is missing (ONNX and "
            "TorchScript files exported by prnet also carry it inside)"
        ) from e
    fmt = meta.get("format")
    if fmt == "torchscript":
        return TorchScriptBackend(path, device or "cpu", meta)
    if fmt == "onnx":
        return OnnxRuntimeBackend(path, device or "cpu", meta, **kwargs)
    if fmt == "openvino":
        return OpenVINOBackend(path, device or "cpu", meta, **kwargs)
    if fmt == "tensorrt":
        return TensorRTBackend(path, device or "cuda", meta)
    raise ValueError(f"{path}: unknown exported format {fmt!r}")
