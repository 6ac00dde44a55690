"""TorchScript and ONNX files of a :class:`~prnet.export.graph.DeployableDetector`.

Both trace through Detectron2's ``TracingAdapter`` at one input size; the graph's padding, point
generation and NMS are shape arithmetic, so the result runs at other sizes (and batch sizes), which
``prnet.export.verify_export`` checks at a second size. Every file gets its JSON sidecar
(:mod:`prnet.export.metadata`).
"""
from __future__ import annotations

import json
import os
import warnings

import torch

from .graph import DeployableDetector
from .metadata import EMBEDDED_KEY, embed_onnx_metadata, write_metadata

__all__ = [
    "export_onnx",
    "export_torchscript",
    "make_sample_images",
    "name_output_dims",
    "trace_module",
]


def make_sample_images(
    batch: int, height: int, width: int, seed: int = 0, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """Random ``(batch, 3, height, width)`` float32 images with integer values 0-255."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, 3, height, width), generator=g).float().to(device)


def _adapter(wrapper: DeployableDetector, images: torch.Tensor):
    from detectron2.export import TracingAdapter

    # eval(): a new Module is in training mode, and torch.onnx.export re-applies the adapter's
    # mode to every submodule when it is done
    return TracingAdapter(wrapper, (images,)).eval()


def trace_module(wrapper: DeployableDetector, images: torch.Tensor) -> torch.jit.ScriptModule:
    """``torch.jit.trace`` of ``TracingAdapter(wrapper)`` at ``images``' size."""
    adapter = _adapter(wrapper, images)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about shape arithmetic are expected
        return torch.jit.trace(adapter, (images,), check_trace=False)


def export_torchscript(
    wrapper: DeployableDetector, images: torch.Tensor, path: str, dump_ir: bool = False
) -> str:
    """Trace at ``images``' size and save to ``path`` (+ sidecar); ``dump_ir`` also writes
    Detectron2's ``dump_torchscript_IR`` files into ``<path>_ir/``."""
    traced = trace_module(wrapper, images)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    meta = write_metadata(path, wrapper, "torchscript", traced_size=list(images.shape))
    traced.save(path, _extra_files={EMBEDDED_KEY + ".json": json.dumps(meta)})
    if dump_ir:
        from detectron2.export import dump_torchscript_IR

        dump_torchscript_IR(traced, os.path.splitext(path)[0] + "_ir")
    return path


def export_onnx(
    wrapper: DeployableDetector,
    images: torch.Tensor,
    path: str,
    opset: int = 17,
    dynamic: bool = True,
) -> str:
    """``torch.onnx.export(..., dynamo=False)`` at ``images``' size; input ``images``, outputs
    named as in :mod:`prnet.export.graph`. ``dynamic``: batch, height and width are symbolic."""
    if opset < 17:
        raise ValueError(f"opset must be >= 17, got {opset}")
    names = list(wrapper.output_names)
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {"images": {0: "batch", 2: "height", 3: "width"}}
        dynamic_axes.update({name: {0: "batch"} for name in names})
        if not wrapper.with_nms:
            dynamic_axes["boxes"][1] = dynamic_axes["scores"][1] = "anchors"
    adapter = _adapter(wrapper, images)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            adapter,
            (images,),
            path,
            dynamo=False,
            opset_version=opset,
            input_names=["images"],
            output_names=names,
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )
    import onnx

    meta = write_metadata(path, wrapper, "onnx", traced_size=list(images.shape), opset=opset)
    model = onnx.load(path)
    if dynamic:
        name_output_dims(model, wrapper)
    embed_onnx_metadata(model, meta)
    onnx.save(model, path)
    onnx.checker.check_model(path)
    return path


def name_output_dims(model, wrapper: DeployableDetector) -> None:
    """Give the ONNX outputs readable shapes where the exporter leaves generated names
    (``ScatterNDboxes_dim_1``): ``batch``, ``anchors`` (raw graphs, depends on the input size),
    and the fixed ``max_det``, 4 and class count."""
    k, d = int(wrapper.model.num_classes), wrapper.max_det
    shapes = {
        "boxes": ("batch", d, 4) if wrapper.with_nms else ("batch", "anchors", 4),
        "scores": ("batch", d) if wrapper.with_nms else ("batch", "anchors", k),
        "classes": ("batch", d),
        "num_detections": ("batch",),
    }
    for output in model.graph.output:
        dims = output.type.tensor_type.shape.dim
        for dim, value in zip(dims, shapes[output.name]):
            if isinstance(value, str):
                dim.dim_param = value
            else:
                dim.dim_value = value
