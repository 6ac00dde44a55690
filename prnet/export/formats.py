"""TorchScript and ONNX export of :class:`~prnet.export.graph.DeployableDetector`.

Both trace through Detectron2's ``TracingAdapter`` at one input size; the graph's padding, point
generation and NMS are shape arithmetic, so the result runs at other sizes (and batch sizes), which
:func:`verify_export` checks at a second size. Every file gets a JSON sidecar ``<file>.json``
(:func:`read_metadata`) naming the flattened outputs and the thresholds used, so a runtime knows
how to read the outputs without the config.
"""
from __future__ import annotations

import json
import logging
import os
import warnings
from typing import Sequence

import torch
from torch import nn

from .compare import compare_outputs
from .graph import DeployableDetector

__all__ = [
    "EXPORT_FORMATS",
    "export_model",
    "export_onnx",
    "export_torchscript",
    "make_sample_images",
    "metadata_path",
    "read_metadata",
    "trace_module",
    "verify_export",
]

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("torchscript", "onnx", "tensorrt")
_SUFFIX = {"torchscript": ".ts", "onnx": ".onnx", "tensorrt": ".engine"}


def metadata_path(path: str | os.PathLike) -> str:
    return os.fspath(path) + ".json"


def read_metadata(path: str | os.PathLike) -> dict:
    """The JSON sidecar written next to an exported file (see :func:`export_model`)."""
    with open(metadata_path(path), encoding="utf-8") as f:
        return json.load(f)


def _write_metadata(path: str, wrapper: DeployableDetector, fmt: str, **extra) -> dict:
    meta = {
        **wrapper.metadata(fmt),
        "input": {
            "name": "images",
            "shape": ["batch", 3, "height", "width"],
            "dtype": "float32",
            "description": "RGB, 0-255, any size (padded in the graph); a batch shares one size",
        },
        **extra,
    }
    with open(metadata_path(path), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    return meta


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
    traced.save(path)
    if dump_ir:
        from detectron2.export import dump_torchscript_IR

        dump_torchscript_IR(traced, os.path.splitext(path)[0] + "_ir")
    _write_metadata(path, wrapper, "torchscript", traced_size=list(images.shape))
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

    onnx.checker.check_model(path)
    _write_metadata(path, wrapper, "onnx", traced_size=list(images.shape), opset=opset)
    return path


def verify_export(
    path: str,
    wrapper: DeployableDetector,
    images: torch.Tensor,
    rtol: float = 1e-3,
    atol: float = 1e-4,
    **compare_kwargs,
) -> None:
    """Run the exported file and the eager wrapper on ``images`` (pick a size other than the
    traced one) and assert equal outputs: raw outputs element-wise; NMS detections per image as
    sets, allowing for near ties, which backends may order differently (see
    :func:`prnet.export.compare.compare_outputs`, which ``compare_kwargs`` go to). Raises
    :class:`~prnet.export.compare.ExportMismatch` (an ``AssertionError``)."""
    from .runtime import load_exported

    exported = load_exported(path, device=images.device)
    with torch.no_grad():
        expected = dict(zip(wrapper.output_names, wrapper(images)))
    if wrapper.with_nms:
        candidates, score_cut = _eager_candidates(wrapper, images)
        rules = dict(score_thresh=score_cut, nms_thresh=wrapper.nms_thresh, max_det=wrapper.max_det)
        compare_kwargs = {**rules, "candidates": candidates, **compare_kwargs}
    compare_outputs(expected, exported(images), rtol=rtol, atol=atol, **compare_kwargs)


@torch.no_grad()
def _eager_candidates(wrapper: DeployableDetector, images: torch.Tensor):
    """What the NMS graph chooses from, for :func:`compare_outputs`: the raw boxes (clipped) and
    scores, and per image the lowest score a candidate may have (score threshold or top-k cut)."""
    boxes, scores = DeployableDetector(wrapper.model, with_nms=False)(images)
    h, w = images.shape[-2:]
    boxes = torch.stack([boxes[..., j].clamp(0, (w, h)[j % 2]) for j in range(4)], -1)
    flat = scores.flatten(1)  # zero-padded to topk columns, as in nms_in_graph
    flat = torch.cat((flat, flat.new_zeros((flat.shape[0], wrapper.topk))), 1)
    kth = flat.topk(wrapper.topk, dim=1).values[:, -1]
    return {"boxes": boxes, "scores": scores}, kth.clamp(min=wrapper.score_thresh)


def export_model(
    model: nn.Module,
    fmt: str,
    output: str,
    *,
    with_nms: bool = False,
    trace_size: Sequence[int] = (1, 640, 640),
    verify_size: Sequence[int] | None = (2, 480, 352),
    max_det: int | None = None,
    score_thresh: float | None = None,
    nms_thresh: float | None = None,
    topk: int | None = None,
    opset: int = 17,
    **trt_kwargs,
) -> str:
    """Export ``model`` (a ``PRNetDetector``) to ``fmt`` at ``output``; returns the file path.

    ``trace_size``: ``(batch, height, width)`` of the tracing input; ``verify_size``: a second
    size at which the file is checked against eager PyTorch (``None``: skip). TensorRT goes
    through an ONNX file next to ``output`` and :func:`prnet.export.tensorrt.build_engine`
    (``trt_kwargs``: ``precision``, ``min_shape``, ``opt_shape``, ``max_shape``, ``calib_dataset``...).
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {EXPORT_FORMATS}")
    if fmt == "tensorrt":
        from .tensorrt import require_tensorrt

        require_tensorrt()  # fail before the slow ONNX export
    wrapper = DeployableDetector(
        model.eval(),
        with_nms,
        max_det=max_det,
        score_thresh=score_thresh,
        nms_thresh=nms_thresh,
        topk=topk,
    ).eval()
    device = next(model.parameters()).device
    images = make_sample_images(*trace_size, device=device)
    if fmt == "torchscript":
        export_torchscript(wrapper, images, output)
    elif fmt == "onnx":
        export_onnx(wrapper, images, output, opset=opset)
    else:
        from .tensorrt import build_engine

        onnx_path = os.path.splitext(output)[0] + ".onnx"
        export_onnx(wrapper.cpu(), images.cpu(), onnx_path, opset=opset)
        wrapper.to(device)
        build_engine(onnx_path, output, **trt_kwargs)
    if verify_size is not None:
        verify_export(output, wrapper, make_sample_images(*verify_size, seed=1, device=device))
        logger.info("verified %s against eager PyTorch at %s", output, tuple(verify_size))
    return output
