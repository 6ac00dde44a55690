"""The JSON sidecar every exported file gets (``<file>.json``): the flattened output names, the
thresholds of an NMS graph and the input convention, so a runtime reads the outputs without the
config."""
from __future__ import annotations

import json
import os

__all__ = ["EXPORT_FORMATS", "FORMAT_SUFFIX", "metadata_path", "read_metadata", "write_metadata"]

EXPORT_FORMATS = ("torchscript", "onnx", "openvino", "tensorrt")
#: The file suffix of each export format.
FORMAT_SUFFIX = {"torchscript": ".ts", "onnx": ".onnx", "openvino": ".xml", "tensorrt": ".engine"}


def metadata_path(path: str | os.PathLike) -> str:
    return os.fspath(path) + ".json"


def read_metadata(path: str | os.PathLike) -> dict:
    """The JSON sidecar written next to an exported file (see :func:`write_metadata`)."""
    with open(metadata_path(path), encoding="utf-8") as f:
        return json.load(f)


def write_metadata(path: str, wrapper, fmt: str, **extra) -> dict:
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
