"""OpenVINO IR (FP32, FP16, INT8 with NNCF calibration) through ``export_model``: dynamic batch and
size, the eager model's detections for FP32/FP16 (set-matched), a loadable INT8 file whose
detections overlap the eager ones, and clear errors for a missing calibration set."""
import pytest
import torch

from prnet.export import (
    EagerBackend,
    export_model,
    load_exported,
    openvino_unavailable_reason,
    read_metadata,
)
from prnet.export.exporter import VERIFY_TOLERANCES, verify_export
from prnet.export.graph import DeployableDetector
from prnet.utils.testing import register_tiny_val_split

pytestmark = pytest.mark.skipif(
    openvino_unavailable_reason("int8") is not None,
    reason=str(openvino_unavailable_reason("int8")),
)

TRACE = (1, 64, 96)


@pytest.fixture(scope="module")
def calib_dataset(tmp_path_factory):
    return register_tiny_val_split(str(tmp_path_factory.mktemp("calib")), "openvino_calib_val")


@pytest.fixture(scope="module", params=["fp32", "fp16", "int8"])
def ir(request, prnet_model, calib_dataset, tmp_path_factory):
    precision = request.param
    path = str(tmp_path_factory.mktemp("ov") / f"prnet_n_{precision}.xml")
    export_model(prnet_model, "openvino", path, with_nms=True, trace_size=TRACE,
                 verify_size=(2, 75, 100), precision=precision, calib_dataset=calib_dataset,
                 calib_images=2)  # fmt: skip
    return path, precision


def test_ir_files_and_sidecar(ir, tmp_path):
    path, precision = ir
    meta = read_metadata(path)
    assert meta["format"] == "openvino" and meta["precision"] == precision
    # the IR carries the same metadata in its rt_info: a copy without the sidecar still opens
    lone = tmp_path / "lone.xml"
    lone.write_bytes(open(path, "rb").read())
    (tmp_path / "lone.bin").write_bytes(open(path[:-4] + ".bin", "rb").read())
    assert read_metadata(lone) == meta and load_exported(lone).with_nms
    assert path.endswith(".xml") and open(path[:-4] + ".bin", "rb").read(4)
    if precision == "int8":
        assert meta["calib_dataset"] == "openvino_calib_val" and meta["calib_images"] == 2
        xml = open(path).read()
        assert "FakeQuantize" in xml, "NNCF inserted no quantisation nodes"


@pytest.mark.parametrize("shape", [(1, 64, 64), (3, 96, 128)], ids=["1x64x64", "3x96x128"])
def test_dynamic_batch_and_size(ir, prnet_model, sample_images, shape):
    path, precision = ir
    if precision == "int8":
        pytest.skip("INT8 is scored on a dataset, not compared detection by detection")
    n, h, w = shape
    images = sample_images(n, 128, seed=h + w)[:, :, :h, :w].float()
    wrapper = DeployableDetector(prnet_model, with_nms=True).eval()
    verify_export(path, wrapper, images, **VERIFY_TOLERANCES[precision])


def test_int8_runs_and_is_quantised(ir, prnet_model, sample_images):
    path, precision = ir
    if precision != "int8":
        pytest.skip("INT8 only")
    images = sample_images(2, 96, seed=5).float()
    got = load_exported(path)(images)
    fp32 = EagerBackend(prnet_model, with_nms=True)(images)
    assert set(got) == set(fp32) and got["boxes"].shape == fp32["boxes"].shape
    n = got["num_detections"]
    assert (n > 0).all()
    for i in range(images.shape[0]):
        boxes = got["boxes"][i, : n[i]]
        assert torch.isfinite(boxes).all()
        assert boxes.min() >= 0 and boxes[:, 2].max() <= 96 and boxes[:, 3].max() <= 96
    # quantisation changed the arithmetic (its accuracy is measured on a dataset:
    # tests/export/test_int8.py, docs/benchmarks/int8_accuracy_demo.md)
    assert not torch.equal(got["scores"], fp32["scores"])


def test_int8_without_calibration_is_refused(prnet_model, tmp_path):
    with pytest.raises(ValueError, match="calibration images"):
        export_model(prnet_model, "openvino", str(tmp_path / "m.xml"), trace_size=TRACE,
                     verify_size=None, precision="int8")  # fmt: skip


def test_unknown_precision_is_refused(prnet_model, tmp_path):
    with pytest.raises(ValueError, match="precision"):
        export_model(prnet_model, "openvino", str(tmp_path / "m.xml"), trace_size=TRACE,
                     verify_size=None, precision="int4")  # fmt: skip
