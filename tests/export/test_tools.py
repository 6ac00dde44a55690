"""One command: tools/export_model.py (``prnet.cli.export``: export + verify + evaluate the exported file with a
preset). PRNet-n at its initialisation, tiny synthetic data."""
import json
import os

import cv2
import numpy as np
import pytest

from prnet.cli import export as tool
from prnet.utils.testing import register_tiny_val_split, repo_root

ROOT = repo_root()


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    return register_tiny_val_split(str(tmp_path_factory.mktemp("synth")), "synth_export_tiny")


def test_export_onnx_with_nms_then_evaluate(tmp_path, tiny_dataset, monkeypatch):
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
