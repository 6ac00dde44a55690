"""Reading Ultralytics checkpoints safely, without Ultralytics (these tests always run).

Checkpoints are written at test time from module classes registered under ``ultralytics.*`` names
(``conftest.fake_ultralytics``); while they are read, those names are blocked in ``sys.modules``,
so any attempt to import them would fail.
"""
import os
import sys

import pytest
import torch

from prnet.checkpoint import (
    UnsafeCheckpointError,
    describe_source,
    is_ultralytics_checkpoint,
    read_ultralytics_checkpoint,
)

LAYERS = {0: "Conv", 1: "C3k2", 2: "Detect"}


def _tensors():
    g = torch.Generator().manual_seed(0)
    return {
        "model.0.conv.weight": torch.randn(8, 3, 3, 3, generator=g),
        "model.0.bn.weight": torch.rand(8, generator=g),
        "model.0.bn.bias": torch.randn(8, generator=g),
        "model.0.bn.running_mean": torch.randn(8, generator=g),
        "model.0.bn.running_var": torch.rand(8, generator=g) + 0.5,
        "model.0.bn.num_batches_tracked": torch.tensor(12),
        "model.1.m.0.cv1.conv.weight": torch.randn(4, 8, 1, 1, generator=g),
        "model.2.cv2.0.2.bias": torch.randn(64, generator=g),
        "model.2.dfl.conv.weight": torch.arange(16.0).view(1, 16, 1, 1),
    }


def _block_ultralytics(monkeypatch):
    """Make every ``ultralytics`` import fail while reading (``None`` in sys.modules)."""
    for name in [n for n in sys.modules if n == "ultralytics" or n.startswith("ultralytics.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "ultralytics", None)


@pytest.mark.parametrize("half", [True, False], ids=["half", "float"])
@pytest.mark.parametrize("ema", [True, False], ids=["ema", "model"])
def test_reader_recovers_every_tensor_without_importing(tmp_path, fake_ultralytics, monkeypatch,
                                                        ema, half):  # fmt: skip
    tensors = _tensors()
    path = tmp_path / "yolo.pt"
    fake_ultralytics(path, tensors, LAYERS, nc=3, stride=[8, 16, 32], ema=ema, half=half)
    _block_ultralytics(monkeypatch)
    assert is_ultralytics_checkpoint(path)
    ckpt = read_ultralytics_checkpoint(path)
    assert (ckpt.ema is not None) == ema and (ckpt.model is not None) != ema
    assert list(ckpt.weights) == list(tensors)
    for key, value in tensors.items():
        got = ckpt.weights[key]
        expected = value.half().float() if half and value.is_floating_point() else value
        assert got.dtype == (torch.float32 if value.is_floating_point() else value.dtype)
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert ckpt.nc == 3 and ckpt.names == {0: "class0", 1: "class1", 2: "class2"}
    assert ckpt.yaml["scale"] == "n" and ckpt.stride == [8.0, 16.0, 32.0]
    assert ckpt.layer_types == LAYERS and ckpt.version == "8.3.0"
    assert ckpt.train_args == {"imgsz": 640, "epochs": 3}


class _CallsOsSystem:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _CallsEval:
    def __reduce__(self):
        return eval, ("__import__('os').system('true')",)


@pytest.mark.parametrize("payload, named", [("os.system", "system"), ("eval", "eval")])
def test_a_pickle_that_would_call_a_function_is_refused_before_the_call(tmp_path, payload, named):
    marker = tmp_path / "payload_ran"
    evil = _CallsOsSystem(marker) if payload == "os.system" else _CallsEval()
    path = tmp_path / "evil.pt"
    # an Ultralytics-looking file: the payload sits next to a model entry
    torch.save({"model": evil, "note": "ultralytics", "train_args": {}}, path)
    with pytest.raises(UnsafeCheckpointError, match=rf"refers to \w+\.{named}.*refused") as err:
        read_ultralytics_checkpoint(path)
    assert "nothing from the file was run" in str(err.value) and str(path) in str(err.value)
    assert not marker.exists()


def test_a_file_that_is_not_a_model_checkpoint_is_named(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    with pytest.raises(ValueError, match=r"expected a dict with 'model' and/or 'ema'.*state_dict"):
        read_ultralytics_checkpoint(path)
    torch.save({"model": {"w": torch.zeros(2)}}, path)
    with pytest.raises(ValueError, match="'model' holds a dict, not a pickled Ultralytics model"):
        read_ultralytics_checkpoint(path)
    assert not is_ultralytics_checkpoint(path)  # plain torch files are not routed to the reader


def test_source_architecture_from_head_strides_and_layers(tmp_path, fake_ultralytics):
    tensors = {"model.2.cv2.conv.weight": torch.zeros(64, 8, 1, 1),
               "model.10.cv2.conv.weight": torch.zeros(256, 8, 1, 1),
               "model.0.dsconv.block.0.weight": torch.zeros(24, 1, 3, 3),
               "model.38.cv2.0.2.bias": torch.zeros(64)}  # fmt: skip
    layers = {0: "ESSamp", 2: "C3k2", 10: "C2PSA", 38: "Detect"}
    fake_ultralytics(tmp_path / "prnet.pt", tensors, layers, nc=10, stride=[4, 8, 16], scale="")
    source = describe_source(read_ultralytics_checkpoint(tmp_path / "prnet.pt"))
    assert (source.kind, source.num_prn_layers, source.stem, source.scale) == ("prnet", 1, "essamp", "n")
    assert source.config() == ("PRNet/prnet_n.py", ["model.backbone.num_prn_layers=1"])
    layers[30] = layers.pop(38)
    tensors["model.30.cv2.0.2.bias"] = tensors.pop("model.38.cv2.0.2.bias")
    fake_ultralytics(tmp_path / "p0.pt", tensors, layers, nc=10, stride=[4, 8, 16])
    assert describe_source(read_ultralytics_checkpoint(tmp_path / "p0.pt")).num_prn_layers == 0
    layers[31] = layers.pop(30)
    tensors["model.31.cv2.0.2.bias"] = tensors.pop("model.30.cv2.0.2.bias")
    fake_ultralytics(tmp_path / "odd.pt", tensors, layers, nc=10, stride=[4, 8, 16])
    with pytest.raises(ValueError, match="neither YOLO11 .* nor the PRNet network"):
        describe_source(read_ultralytics_checkpoint(tmp_path / "odd.pt"))
