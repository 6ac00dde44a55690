"""Export a detector to a file and prove the file computes what PyTorch does: :func:`export_model`
(TorchScript, ONNX, TensorRT) and :func:`verify_export` (the file against the eager graph at a
second size, NMS outputs compared as sets, see :mod:`prnet.export.compare`)."""
from __future__ import annotations

import copy
import logging
import os
from typing import Sequence

import torch
from torch import nn

from prnet.layers import to_export_form

from .compare import compare_outputs
from .formats import export_onnx, export_torchscript, make_sample_images
from .graph import DeployableDetector
from .metadata import EXPORT_FORMATS
from .openvino import OpenVINOUnavailable, convert_onnx_to_openvino, openvino_unavailable_reason
from .runtime import load_exported
from .tensorrt import build_engine, require_tensorrt

#: ``verify_export`` tolerances by precision: half precision and INT8 do not match float32 to 1e-4.
#: INT8 is not compared detection by detection; its accuracy is measured on a dataset instead.
VERIFY_TOLERANCES = {
    "fp32": dict(rtol=1e-3, atol=1e-4),
    "fp16": dict(rtol=2e-2, atol=1e-2, match_iou=0.9),
    "int8": None,
}

__all__ = ["VERIFY_TOLERANCES", "export_model", "verify_export"]

logger = logging.getLogger(__name__)


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
    export_form: bool = True,
    **backend_kwargs,
) -> str:
    """Export ``model`` (a ``PRNetDetector``) to ``fmt`` at ``output``; returns the file path.

    ``trace_size``: ``(batch, height, width)`` of the tracing input; ``verify_size``: a second
    size at which the file is checked against eager PyTorch (``None``: skip; INT8 files are never
    compared detection by detection). OpenVINO and TensorRT go through an ONNX file next to
    ``output``; ``backend_kwargs``: ``precision`` (``fp32``/``fp16``/``int8``), ``calib_dataset``,
    ``calib_images`` for both, and ``min_shape``, ``opt_shape``, ``max_shape``, ``calib_cache``
    for TensorRT (:func:`prnet.export.tensorrt.build_engine`). ``export_form``: trace
    :func:`prnet.layers.to_export_form` of the model (BatchNorm folded, ESSamp rewritten into ops
    runtimes run fast; the default) rather than the model as it is.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {EXPORT_FORMATS}")
    precision = backend_kwargs.get("precision", "fp16" if fmt == "tensorrt" else "fp32")
    if fmt == "tensorrt":
        require_tensorrt()  # fail before the slow ONNX export
    if fmt == "openvino" and (reason := openvino_unavailable_reason(precision)):
        raise OpenVINOUnavailable(reason)
    rules = dict(max_det=max_det, score_thresh=score_thresh, nms_thresh=nms_thresh, topk=topk)
    wrapper = DeployableDetector(model.eval(), with_nms, **rules).eval()
    # the file is traced from the export form (BN folded, ESSamp in ops runtimes run fast) and
    # checked against the model as it is
    traced = wrapper
    if export_form:
        traced = DeployableDetector(to_export_form(copy.deepcopy(model)), with_nms, **rules).eval()
    device = next(model.parameters()).device
    images = make_sample_images(*trace_size, device=device)
    if fmt == "torchscript":
        export_torchscript(traced, images, output)
    elif fmt == "onnx":
        export_onnx(traced, images, output, opset=opset)
    else:
        onnx_path = os.path.splitext(output)[0] + ".onnx"
        export_onnx(traced.cpu(), images.cpu(), onnx_path, opset=opset)
        traced.to(device)  # the model itself when traced as it is
        if fmt == "openvino":
            keys = ("precision", "calib_dataset", "calib_images")
            convert_onnx_to_openvino(onnx_path, output, image_size=max(trace_size[1:]),
                                     **{k: v for k, v in backend_kwargs.items() if k in keys})  # fmt: skip
        else:
            build_engine(onnx_path, output, **backend_kwargs)
    tolerances = VERIFY_TOLERANCES.get(precision, VERIFY_TOLERANCES["fp32"])
    if verify_size is not None and tolerances is not None:
        images = make_sample_images(*verify_size, seed=1, device=device)
        verify_export(output, wrapper, images, **tolerances)
        logger.info("verified %s against eager PyTorch at %s", output, tuple(verify_size))
    elif verify_size is not None:
        logger.info("%s: INT8, not compared detection by detection; measure its accuracy", output)
    return output
