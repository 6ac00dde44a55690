"""Deployment of PRNet: one traceable graph (:mod:`.graph`), TorchScript/ONNX export (:mod:`.formats`),
TensorRT engines (:mod:`.tensorrt`) and runtimes behind one interface (:mod:`.runtime`).

Typical use (what ``tools/export_model.py`` does)::

    model = build_model("configs/PRNet/prnet_s.py", "model_final.pth")
    export_model(model, "onnx", "out/prnet_s.onnx", with_nms=True, trace_size=(1, 640, 640))
    backend = load_exported("out/prnet_s.onnx")        # or EagerBackend(model)
    outputs = backend(images)                            # dict of tensors, see prnet.export.graph
"""
from .checkpoint import EMA_KEYS, build_model, extract_state_dict, load_weights
from .compare import ExportMismatch, compare_outputs
from .formats import (
    EXPORT_FORMATS,
    export_model,
    export_onnx,
    export_torchscript,
    make_sample_images,
    read_metadata,
    trace_module,
    verify_export,
)
from .graph import (
    NMS_OUTPUTS,
    RAW_OUTPUTS,
    DeployableDetector,
    nms_in_graph,
    outputs_to_instances,
    select_detections,
)
from .runtime import Backend, EagerBackend, OnnxRuntimeBackend, TorchScriptBackend, load_exported
from .tensorrt import (
    TensorRTBackend,
    TensorRTUnavailable,
    build_engine,
    calibration_batches,
    require_tensorrt,
    tensorrt_unavailable_reason,
)

__all__ = [
    "Backend",
    "DeployableDetector",
    "EMA_KEYS",
    "EXPORT_FORMATS",
    "EagerBackend",
    "ExportMismatch",
    "NMS_OUTPUTS",
    "OnnxRuntimeBackend",
    "RAW_OUTPUTS",
    "TensorRTBackend",
    "TensorRTUnavailable",
    "TorchScriptBackend",
    "build_engine",
    "build_model",
    "calibration_batches",
    "compare_outputs",
    "export_model",
    "export_onnx",
    "export_torchscript",
    "extract_state_dict",
    "load_exported",
    "load_weights",
    "make_sample_images",
    "nms_in_graph",
    "outputs_to_instances",
    "read_metadata",
    "require_tensorrt",
    "select_detections",
    "tensorrt_unavailable_reason",
    "trace_module",
    "verify_export",
]
