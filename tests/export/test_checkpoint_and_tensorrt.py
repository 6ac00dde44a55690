"""Weights loading (EMA preferred, plain state dicts) and the TensorRT path (skips without CUDA)."""
import pytest
import torch
from torch import nn

from prnet.checkpoint import extract_state_dict, load_weights
from prnet.export import tensorrt_unavailable_reason
from prnet.export.tensorrt import TensorRTUnavailable, build_engine, require_tensorrt


def _net():
    return nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))


def test_checkpoint_prefers_ema(tmp_path):
    model, ema = _net(), _net()
    with torch.no_grad():
        for p in ema.parameters():
            p.fill_(0.5)
    path = tmp_path / "model_final.pth"
    # the layout of prnet's trainer: checkpointable "ema" = prnet.engine EMA state_dict()
    ema_state = {"state": ema.state_dict(), "updates": 10, "decay": 0.9999, "tau": 2000}
    torch.save({"model": model.state_dict(), "ema": ema_state, "iteration": 9}, path)
    target = _net()
    assert load_weights(target, str(path)) == "ema"
    torch.testing.assert_close(target[0].weight, ema[0].weight)
    assert extract_state_dict(torch.load(path), prefer_ema=False)[1] == "model"
    torch.save({"model": model.state_dict(), "ema": {}}, path)  # EMA not started yet
    assert load_weights(_net(), str(path)) == "model"


@pytest.mark.parametrize("wrap", ["plain", "ddp", "d2"])
def test_checkpoint_plain_state_dict(tmp_path, wrap):
    model = _net()
    state = model.state_dict()
    if wrap == "ddp":
        state = {f"module.{k}": v for k, v in state.items()}
    if wrap == "d2":
        state = {"model": state, "optimizer": {}}
    torch.save(state, tmp_path / "w.pth")
    target = _net()
    load_weights(target, str(tmp_path / "w.pth"))
    torch.testing.assert_close(target[0].weight, model[0].weight)


def test_checkpoint_mismatch_raises(tmp_path):
    torch.save({"model": {"other.weight": torch.zeros(1)}}, tmp_path / "w.pth")
    with pytest.raises(ValueError, match="does not fit the model"):
        load_weights(_net(), str(tmp_path / "w.pth"))


REASON = tensorrt_unavailable_reason()


def test_tensorrt_unavailable_is_a_clear_error():
    if REASON is None:
        pytest.skip("TensorRT is available here")
    with pytest.raises(TensorRTUnavailable, match="CUDA|tensorrt"):
        require_tensorrt()
    with pytest.raises(TensorRTUnavailable):
        build_engine("missing.onnx", "missing.engine")


@pytest.mark.skipif(REASON is not None, reason=str(REASON))
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_tensorrt_engine_matches_eager(tmp_path, prnet_model, sample_images, precision):
    from prnet.export import EagerBackend, export_onnx, load_exported
    from prnet.export.graph import DeployableDetector
    from prnet.inference import Predictor

    model = prnet_model.cuda()
    wrapper = DeployableDetector(model, with_nms=True, topk=1000).eval()
    onnx_path = str(tmp_path / "m.onnx")
    export_onnx(wrapper.cpu(), sample_images(1, 64).float(), onnx_path)
    calib = None
    if precision == "int8":  # calibration images drawn from a registered (synthetic) dataset
        from prnet.data.synthetic import register_synthetic_aerial

        split = {"split": "val", "num_images": 4, "image_size": (96, 96), "progress": False}
        (calib,) = register_synthetic_aerial(str(tmp_path / "synth"), {"trt_calib": split})
    build_engine(onnx_path, str(tmp_path / "m.engine"), precision=precision,
                 min_shape=(1, 3, 64, 64), opt_shape=(2, 3, 96, 96), max_shape=(2, 3, 128, 128),
                 calib_dataset=calib, calib_images=4, calib_batch=2)
    backend = load_exported(str(tmp_path / "m.engine"))
    images = sample_images(2, 96, seed=4).float().cuda()
    got = Predictor(backend, None).run_tensors(list(images))
    ref = Predictor(EagerBackend(wrapper.cuda()), None).run_tensors(list(images))
    if precision == "int8":  # INT8 of a random network: only the plumbing is comparable
        assert all(len(g) <= backend.meta["max_det"] for g in got)
        return
    for g, r in zip(got, ref):  # FP16: same top detections, looser tolerances
        k = min(len(g), len(r), 5)
        torch.testing.assert_close(g.pred_boxes.tensor[:k], r.pred_boxes.tensor[:k], rtol=2e-2, atol=1.0)
