"""Deployment of PRNet: one traceable graph (:mod:`.graph`), TorchScript/ONNX files (:mod:`.formats`),
TensorRT engines (:mod:`.tensorrt`), runtimes behind one interface (:mod:`.runtime`), and
:func:`export_model` / :func:`verify_export` over them (:mod:`.exporter`).

Typical use (what ``tools/export_model.py`` does)::

    model = prnet.build_model("configs/PRNet/prnet_s.py", "model_final.pth")
    export_model(model, "onnx", "out/prnet_s.onnx", with_nms=True, trace_size=(1, 640, 640))
    backend = load_exported("out/prnet_s.onnx")        # or EagerBackend(model)
    outputs = backend(images)                            # dict of tensors, see prnet.export.graph
"""
from .backend import Backend
from .compare import ExportMismatch, compare_outputs
from .exporter import export_model, verify_export
from .formats import export_onnx, export_torchscript, make_sample_images, trace_module
from .graph import (
    NMS_OUTPUTS,
    RAW_OUTPUTS,
    DeployableDetector,
    nms_in_graph,
    outputs_to_instances,
    select_detections,
)
from .calibration import calibration_batches
from .metadata import EXPORT_FORMATS, FORMAT_SUFFIX, read_embedded_metadata, read_metadata
from .openvino import (
    OPENVINO_PRECISIONS,
    OpenVINOBackend,
    OpenVINOUnavailable,
    convert_onnx_to_openvino,
    openvino_unavailable_reason,
)
from .runtime import EagerBackend, OnnxRuntimeBackend, TorchScriptBackend, load_exported
from .tensorrt import (
    TensorRTBackend,
    TensorRTUnavailable,
    build_engine,
    require_tensorrt,
    tensorrt_unavailable_reason,
)

__all__ = [
    "Backend",
    "DeployableDetector",
    "EXPORT_FORMATS",
    "FORMAT_SUFFIX",
    "EagerBackend",
    "ExportMismatch",
    "NMS_OUTPUTS",
    "OPENVINO_PRECISIONS",
    "OnnxRuntimeBackend",
    "OpenVINOBackend",
    "OpenVINOUnavailable",
    "RAW_OUTPUTS",
    "TensorRTBackend",
    "TensorRTUnavailable",
    "TorchScriptBackend",
    "build_engine",
    "calibration_batches",
    "compare_outputs",
    "convert_onnx_to_openvino",
    "export_model",
    "export_onnx",
    "export_torchscript",
    "load_exported",
    "make_sample_images",
    "nms_in_graph",
    "openvino_unavailable_reason",
    "outputs_to_instances",
    "read_embedded_metadata",
    "read_metadata",
    "require_tensorrt",
    "select_detections",
    "tensorrt_unavailable_reason",
    "trace_module",
    "verify_export",
]
