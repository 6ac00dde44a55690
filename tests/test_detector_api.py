"""``prnet.Detector`` and the metadata of exported files, on a tiny untrained PRNet-n (head outputs
spread so that detections differ) saved to a checkpoint with its class names and exported to ONNX:
the same detections from the checkpoint and the ONNX file, RGB vs BGR input, paths, lists, the
plain dict form, and the ONNX metadata read with ONNX Runtime alone."""
import importlib.util
import json
import os

import cv2
import numpy as np
import pytest
import torch
from detectron2.config import LazyConfig

import prnet
from prnet.checkpoint.metadata import config_metadata
from prnet.export import export_model
from prnet.export.compare import match_one_to_one
from prnet.utils.testing import repo_root

CLASSES = ["car", "van", "bus"]


def _export_conftest():
    path = os.path.join(repo_root(), "tests", "export", "conftest.py")
    spec = importlib.util.spec_from_file_location("_export_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """``model.pth`` (weights + prnet_meta, test size 96) and its ONNX export (raw outputs)."""
    helpers = _export_conftest()
    cwd = os.getcwd()
    os.chdir(repo_root())  # the helper loads its config by a relative path
    try:
        model = helpers.tiny_prnet(num_classes=3)
        cfg = LazyConfig.load(helpers.CONFIG)
    finally:
        os.chdir(cwd)
    cfg.model.num_classes, cfg.model.test_score_thresh, cfg.model.max_detections_per_image = 3, 0.05, 60
    cfg.dataloader.train.mapper.image_size = 96
    model.prnet_meta = config_metadata(cfg, helpers.CONFIG, class_names=CLASSES)
    folder = tmp_path_factory.mktemp("detector")
    pth = str(folder / "model.pth")
    torch.save({"model": model.state_dict(), "prnet_meta": model.prnet_meta}, pth)
    onnx_path = export_model(model, "onnx", str(folder / "model.onnx"), trace_size=(1, 96, 96),
                             verify_size=None)  # fmt: skip
    return pth, onnx_path


@pytest.fixture(scope="module")
def pth_detector(files):
    return prnet.Detector(files[0])


def _image(seed=0, h=90, w=120):
    """Smooth random colours (detections of an untrained model need some structure)."""
    g = np.random.default_rng(seed)
    small = g.integers(0, 256, (h // 10, w // 10, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _as_tensors(d):
    return {"boxes": torch.from_numpy(d["boxes"]), "scores": torch.from_numpy(d["scores"]),
            "classes": torch.from_numpy(d["classes"])}  # fmt: skip


def test_onnx_metadata_read_with_onnxruntime_alone(files):
    import onnxruntime as ort

    session = ort.InferenceSession(files[1], providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    assert json.loads(props["class_names"]) == CLASSES and json.loads(props["num_classes"]) == 3
    assert json.loads(props["image_size"]) == 96 and json.loads(props["input_format"]) == "RGB"
    assert json.loads(props["config"]) == "prnet_n.py" and props["prnet_version"]
    assert json.loads(props["score_thresh"]) == pytest.approx(0.05)
    shapes = {o.name: o.shape for o in session.get_outputs()}
    assert shapes == {"boxes": ["batch", "anchors", 4], "scores": ["batch", "anchors", 3]}
    assert session.get_inputs()[0].shape == ["batch", 3, "height", "width"]


def test_checkpoint_and_onnx_detectors_agree(files, pth_detector):
    image = _image()
    by_pth = pth_detector
    by_onnx = prnet.Detector(files[1])
    assert by_pth.class_names == by_onnx.class_names == CLASSES
    assert by_pth.image_size == by_onnx.image_size == 96  # the model's test size
    a, b = by_pth.predict(image, as_dict=True), by_onnx.predict(image, as_dict=True)
    assert len(a["boxes"]) > 5, "the test needs detections"
    keep_a, keep_b = match_one_to_one(_as_tensors(a), _as_tensors(b))
    assert bool(keep_a.all()) and bool(keep_b.all()), (len(a["boxes"]), len(b["boxes"]))
    assert a["image_size"] == (90, 120) and a["boxes"][:, 2].max() > 96  # original pixels


def test_onnx_without_its_sidecar_reads_the_embedded_metadata(files, tmp_path):
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(open(files[1], "rb").read())  # no lone.onnx.json next to it
    det = prnet.Detector(str(lone))
    assert det.class_names == CLASSES and det.image_size == 96
    assert det.predictor.rules["score_thresh"] == pytest.approx(0.05)


def test_torchscript_carries_its_metadata_in_extra_files(files, tmp_path, pth_detector):
    ts = export_model(pth_detector.predictor.backend.wrapper.model, "torchscript",
                      str(tmp_path / "model.ts"), trace_size=(1, 96, 96), verify_size=None)  # fmt: skip
    os.remove(ts + ".json")
    det = prnet.Detector(ts)
    assert det.class_names == CLASSES and det.image_size == 96
    image = _image(3)
    a, b = pth_detector.predict(image, as_dict=True), det.predict(image, as_dict=True)
    keep_a, keep_b = match_one_to_one(_as_tensors(a), _as_tensors(b))
    assert len(a["boxes"]) > 0 and bool(keep_a.all()) and bool(keep_b.all())


def test_rgb_bgr_paths_lists_and_dicts(pth_detector, tmp_path):
    det = pth_detector
    rgb, other = _image(0), _image(1, 64, 80)
    ref = det.predict(rgb)
    assert len(ref) > 0
    as_bgr = det.predict(np.ascontiguousarray(rgb[:, :, ::-1]), bgr=True)
    torch.testing.assert_close(as_bgr.pred_boxes.tensor, ref.pred_boxes.tensor, rtol=0, atol=0)
    swapped = det.predict(np.ascontiguousarray(rgb[:, :, ::-1]))  # BGR passed as RGB: differs
    assert len(swapped) != len(ref) or not torch.equal(swapped.scores, ref.scores)
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), rgb[:, :, ::-1])  # OpenCV writes BGR
    from_path, from_other = det.predict([str(path), other])
    torch.testing.assert_close(from_path.scores, ref.scores)  # batched with a smaller image
    assert from_other.image_size == (64, 80)
    d = det.predict(rgb, as_dict=True)
    assert set(d) == {"boxes", "scores", "classes", "class_names", "image_size"}
    assert d["boxes"].shape == (len(ref), 4) and d["classes"].dtype == np.int64
    assert d["class_names"] == [CLASSES[c] for c in d["classes"]]
    np.testing.assert_array_equal(d["scores"], ref.scores.numpy())
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        det.predict(rgb.astype(np.float32))


def test_sliced_prediction_in_original_pixels(files):
    det = prnet.Detector(files[1], max_det=20)
    image = _image(2, 110, 150)
    sliced = det.predict(image, slice=dict(tile_size=96, overlap=0.25))
    assert sliced.image_size == (110, 150) and len(sliced) > 0
    boxes = sliced.pred_boxes.tensor
    assert float(boxes[:, 2].max()) <= 150 and float(boxes[:, 3].max()) <= 110
    assert float(boxes[:, 2].max()) > 96  # tiles shifted back into the image
    full_only = det.predict(image, slice=dict(tile_size=96, overlap=0.25, full_image=False))
    assert len(full_only) != len(sliced) or not torch.equal(full_only.scores, sliced.scores)


def test_evaluate_a_registered_dataset(files, tmp_path):
    from prnet.utils.testing import register_tiny_val_split

    name = register_tiny_val_split(str(tmp_path / "data"), "detector_api_val")
    det = prnet.Detector(files[1], score_thresh=0.0)
    metrics = det.evaluate(name, preset="coco", progress=False)
    assert set(metrics["bbox"]) >= {"AP", "AP50"}
