"""The metadata of an exported file: the flattened output names, the thresholds of an NMS graph,
the input convention, and what the model says about itself (class names, test image size, config
name, prnet version), so a runtime reads the outputs and labels them without the config.

Every file gets a JSON sidecar (``<file>.json``); ONNX files also hold it in their
``metadata_props`` (readable with ONNX Runtime alone:
``InferenceSession(f).get_modelmeta().custom_metadata_map``), TorchScript files in their
extra files (``prnet_meta.json``) and OpenVINO IR in its ``rt_info`` (``prnet_meta``), so the
sidecar can be lost. TensorRT engines rely on the sidecar.
"""
from __future__ import annotations

import json
import os

__all__ = [
    "EMBEDDED_KEY",
    "EXPORT_FORMATS",
    "FORMAT_SUFFIX",
    "embed_onnx_metadata",
    "metadata_path",
    "onnx_metadata_props",
    "read_embedded_metadata",
    "read_metadata",
    "write_metadata",
]

EXPORT_FORMATS = ("torchscript", "onnx", "openvino", "tensorrt")
#: The file suffix of each export format.
FORMAT_SUFFIX = {"torchscript": ".ts", "onnx": ".onnx", "openvino": ".xml", "tensorrt": ".engine"}
#: The ONNX ``metadata_props`` key / TorchScript extra file (``.json``) holding the whole dict.
EMBEDDED_KEY = "prnet_meta"
#: Entries also written as separate ONNX ``metadata_props`` (values JSON), for other tools.
_ONNX_FIELDS = ("class_names", "num_classes", "image_size", "input_format", "input_range",
                "config", "prnet_version", "with_nms", "score_thresh", "nms_thresh", "max_det")  # fmt: skip


def metadata_path(path: str | os.PathLike) -> str:
    return os.fspath(path) + ".json"


def read_metadata(path: str | os.PathLike) -> dict:
    """The metadata of an exported file: its JSON sidecar, else (ONNX, TorchScript, OpenVINO) the copy
    embedded in the file. Raises ``FileNotFoundError`` when there is neither."""
    try:
        with open(metadata_path(path), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        embedded = read_embedded_metadata(path) if os.path.isfile(path) else None
        if embedded is None:
            raise
        return embedded


def read_embedded_metadata(path: str | os.PathLike) -> dict | None:
    """The dict stored inside an ONNX, TorchScript or OpenVINO file by prnet (``None``: none)."""
    path = os.fspath(path)
    if path.endswith(".onnx"):
        import onnx

        props = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
        return json.loads(props[EMBEDDED_KEY]) if EMBEDDED_KEY in props else None
    if path.endswith(FORMAT_SUFFIX["torchscript"]) or path.endswith(".pt"):
        import torch

        extra = {EMBEDDED_KEY + ".json": ""}
        try:
            torch.jit.load(path, map_location="cpu", _extra_files=extra)
        except RuntimeError:
            return None
        text = extra[EMBEDDED_KEY + ".json"]
        return json.loads(text) if text else None
    if path.endswith(FORMAT_SUFFIX["openvino"]):
        import openvino as ov

        model = ov.Core().read_model(path)
        if not model.has_rt_info([EMBEDDED_KEY]):
            return None
        return json.loads(model.get_rt_info([EMBEDDED_KEY]).astype(str))
    return None


def onnx_metadata_props(meta: dict) -> dict[str, str]:
    """``meta`` as ONNX ``metadata_props``: the whole dict as JSON under :data:`EMBEDDED_KEY`
    and the common entries one by one (JSON values, e.g. ``class_names`` a JSON list)."""
    props = {k: json.dumps(meta[k]) for k in _ONNX_FIELDS if k in meta}
    props[EMBEDDED_KEY] = json.dumps(meta)
    return props


def embed_onnx_metadata(model, meta: dict) -> None:
    """Write ``meta`` into an ONNX ``ModelProto``'s ``metadata_props`` (replacing prnet's earlier
    entries)."""
    props = onnx_metadata_props(meta)
    kept = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def write_metadata(path: str, wrapper, fmt: str, **extra) -> dict:
    """Write the sidecar of ``path`` from ``wrapper`` (a ``DeployableDetector``); returns it."""
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
