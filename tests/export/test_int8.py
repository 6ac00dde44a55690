"""INT8 on CPU: ONNX Runtime static QDQ quantisation of an exported file, and the accuracy report
that puts both quantisers (and OpenVINO, when installed) beside float32 on one dataset."""
import onnx
import pytest

from prnet.export import export_model, load_exported, openvino_unavailable_reason, read_metadata
from prnet.export.onnx_int8 import quantize_onnx_int8
from prnet.experiments.int8_accuracy import int8_accuracy
from prnet.utils.testing import register_tiny_val_split

from .conftest import make_images, tiny_prnet


@pytest.fixture(scope="module")
def float_onnx(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("int8") / "prnet_n.onnx")
    model = tiny_prnet(num_classes=7)
    export_model(model, "onnx", path, with_nms=True, trace_size=(1, 96, 128), verify_size=None)
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return register_tiny_val_split(str(tmp_path_factory.mktemp("data")), "int8_tiny_val")


def test_onnxruntime_int8_quantises_convolutions(float_onnx, dataset, tmp_path):
    out = quantize_onnx_int8(float_onnx, str(tmp_path / "int8.onnx"), dataset, 2, image_size=128)
    ops = [n.op_type for n in onnx.load(out).graph.node]
    assert ops.count("QuantizeLinear") > 10 and "DequantizeLinear" in ops
    assert "NonMaxSuppression" in ops, "NMS stays in the graph, in float"
    meta = read_metadata(out)
    assert meta["precision"] == "int8" and meta["calib_dataset"] == dataset
    images = make_images(2, 128, seed=4).float()
    got = load_exported(out)(images)
    expected = load_exported(float_onnx)(images)
    assert got["boxes"].shape == expected["boxes"].shape
    assert (got["num_detections"] >= 0).all()


def test_int8_accuracy_report(float_onnx, dataset, tmp_path):
    report = int8_accuracy(float_onnx, dataset, dataset, str(tmp_path), preset="synthetic",
                           image_size=128, calib_images=2, batch_size=2)  # fmt: skip
    rows = report["rows"]
    expected = {"onnxruntime fp32", "onnxruntime int8"}
    if openvino_unavailable_reason("int8") is None:
        expected |= {"openvino fp32", "openvino int8"}
        # the same float32 graph in two runtimes scores the same
        assert rows["openvino fp32"]["AP50"] == pytest.approx(rows["onnxruntime fp32"]["AP50"], abs=0.5)
    assert set(rows) == expected
    drop = rows["onnxruntime fp32"]["AP50"] - rows["onnxruntime int8"]["AP50"]
    assert rows["onnxruntime int8"]["AP50_drop"] == pytest.approx(drop)
    table = (tmp_path / "int8_accuracy.md").read_text()
    assert "| onnxruntime int8 |" in table and "AP50 drop" in table
