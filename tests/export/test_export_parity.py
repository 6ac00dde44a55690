"""Exported PRNet (TorchScript, ONNX Runtime; with and without NMS in the graph; the model as it is
and the export form ``export_model`` traces) gives the eager model's detections: traced at one
size, checked at two others (one not a multiple of the backbone's divisibility) and at batch 2.
Tolerances of the issue: boxes 1e-3 relative, same classes, scores 1e-4."""
import copy

import pytest
import torch

from prnet.export import EagerBackend, export_onnx, export_torchscript, load_exported
from prnet.export.graph import DeployableDetector
from prnet.inference import Predictor
from prnet.layers import to_export_form

TRACE = (1, 64, 96)  # (batch, height, width) of the tracing input
CHECK_SIZES = [(64, 64), (75, 100)]


def assert_same_detections(expected, got):
    for e, g in zip(expected, got, strict=True):
        assert e.image_size == g.image_size
        assert len(e) == len(g) and len(e) > 0, (len(e), len(g))
        torch.testing.assert_close(g.pred_classes, e.pred_classes, rtol=0, atol=0)
        torch.testing.assert_close(g.scores, e.scores, rtol=0, atol=1e-4)
        torch.testing.assert_close(
            g.pred_boxes.tensor, e.pred_boxes.tensor, rtol=1e-3, atol=1e-3
        )


def eager_reference(model, images):
    with torch.no_grad():
        return [o["instances"] for o in model([{"image": im} for im in images])]


@pytest.fixture(scope="module", params=["torchscript", "onnx"])
def fmt(request):
    return request.param


@pytest.fixture(scope="module", params=["as_is", "export_form"])
def form(request):
    """Trace the model as it is, or what ``export_model`` traces (``to_export_form``)."""
    return request.param


@pytest.fixture(scope="module", params=[False, True], ids=["raw", "nms"])
def exported(request, fmt, form, prnet_model, sample_images, tmp_path_factory):
    with_nms = request.param
    traced = to_export_form(copy.deepcopy(prnet_model)) if form == "export_form" else prnet_model
    wrapper = DeployableDetector(traced, with_nms).eval()
    trace_images = sample_images(TRACE[0], 96, seed=3)[:, :, : TRACE[1], : TRACE[2]].float()
    path = str(tmp_path_factory.mktemp("export") / f"prnet_n.{'ts' if fmt == 'torchscript' else 'onnx'}")
    if fmt == "torchscript":
        export_torchscript(wrapper, trace_images, path)
    else:
        export_onnx(wrapper, trace_images, path, opset=17)
    return load_exported(path), with_nms


@pytest.mark.parametrize("size", CHECK_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_exported_matches_eager(exported, prnet_model, sample_images, size):
    backend, with_nms = exported
    assert backend.with_nms == with_nms
    images = sample_images(2, 128, seed=sum(size))[:, :, : size[0], : size[1]]
    expected = eager_reference(prnet_model, images)
    predictor = Predictor(backend, image_size=None, batch_size=2)
    assert_same_detections(expected, predictor.predict_inputs([{"image": im} for im in images]))


def test_nms_graph_output_layout(exported, sample_images):
    backend, with_nms = exported
    images = sample_images(3, 96, seed=11)[:, :, :80, :96].float()
    out = backend(images)
    if not with_nms:
        assert list(out) == ["boxes", "scores"]
        # 80 x 96 is padded in the graph to 96 x 96 (divisibility 32): strides 4, 8, 16
        assert out["boxes"].shape == (3, 24 * 24 + 12 * 12 + 6 * 6, 4)
        assert out["scores"].shape == (3, 24 * 24 + 12 * 12 + 6 * 6, 3)
        return
    assert list(out) == ["boxes", "scores", "classes", "num_detections"]
    d = backend.meta["max_det"]
    assert out["boxes"].shape == (3, d, 4) and out["scores"].shape == (3, d)
    assert out["classes"].dtype == torch.int64 and out["num_detections"].shape == (3,)
    for i, k in enumerate(out["num_detections"].tolist()):
        assert 0 < k <= d
        assert (out["classes"][i, k:] == -1).all() and (out["scores"][i, k:] == 0).all()
        assert (out["scores"][i, :k].diff() <= 0).all()
        assert (out["boxes"][i, :k, 0::2] <= 96).all() and (out["boxes"][i, :k, 1::2] <= 80).all()


def test_eager_backend_batch_matches_model(prnet_model, sample_images):
    """The deployable graph in eager mode is the model (mixed sizes padded like ImageList)."""
    images = [sample_images(1, 96, seed=5)[0, :, :70, :90], sample_images(1, 96, seed=6)[0]]
    expected = eager_reference(prnet_model, images)
    got = Predictor(EagerBackend(prnet_model), image_size=None).predict_inputs(
        [{"image": im} for im in images]
    )
    assert_same_detections(expected, got)


def test_fused_channels_last_backend_equals_eager(prnet_model, sample_images):
    images = sample_images(2, 96, seed=11).float()
    plain = EagerBackend(prnet_model)(images)
    fused = EagerBackend(prnet_model, fuse=True)
    got = fused(images)
    for name in plain:
        torch.testing.assert_close(got[name], plain[name], rtol=1e-3, atol=1e-3)
    # the caller's model keeps its BatchNorms and its memory layout
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in prnet_model.modules())
    assert all(p.is_contiguous() for p in prnet_model.parameters())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.wrapper.modules())
