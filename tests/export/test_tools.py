"""One command: tools/export_model.py (export + verify + evaluate the exported file with a
preset). PRNet-n at its initialisation, tiny synthetic data."""
import importlib.util
import json
import os

import cv2
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    from prnet.data.synthetic import register_synthetic_aerial

    split = {"split": "val", "num_images": 2, "image_size": (96, 128), "seed": 0, "progress": False}
    (name,) = register_synthetic_aerial(str(tmp_path_factory.mktemp("synth")), {"synth_export_tiny": split})
    return name


def test_export_onnx_with_nms_then_evaluate(tmp_path, tiny_dataset, monkeypatch):
    tool = _tool("export_model")
    monkeypatch.setattr(tool, "register_datasets", lambda: None)  # keep the tiny split
    out = str(tmp_path / "prnet_n.onnx")
    result = tool.main([
        "--config-file", os.path.join(ROOT, "configs/PRNet/prnet_n.py"), "--format", "onnx",
        "--nms", "--trace-size", "64", "64", "--verify-size", "96", "64", "--output", out,
        "--eval", tiny_dataset, "--preset", "visdrone", "--image-size", "128",
        "model.num_classes=7", "model.max_detections_per_image=50",
    ])
    meta = json.load(open(out + ".json"))
    assert meta["outputs"] == ["boxes", "scores", "classes", "num_detections"] and meta["opset"] == 17
    assert "AP50" in result["metrics"]["bbox"]
