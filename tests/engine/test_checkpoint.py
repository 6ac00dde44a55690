"""PRNetCheckpointer: atomic files and pointer, refusal of NaN/Inf weights, weights-only loading,
a readable report for a checkpoint of another architecture or class count."""

import logging
import os
import pickle

import pytest
import torch
from torch import nn

from prnet.engine import ModelEMA, PRNetCheckpointer
from prnet.engine.checkpoint import atomic_write, first_non_finite


def _model(num_classes=3):
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, num_classes, 1))


def test_save_is_atomic_and_tags_complete_file(tmp_path):
    model = _model()
    ckpt = PRNetCheckpointer(model, str(tmp_path), ema=ModelEMA(model))
    ckpt.save("model_0000001", iteration=1)
    ckpt.save("model_0000003", iteration=3)
    # only final names, no temporary files left; the pointer names the newest complete file
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0000001.pth",
                                            "model_0000003.pth"]
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000003.pth"
    data = torch.load(tmp_path / "model_0000003.pth", weights_only=True)
    assert data["iteration"] == 3 and {"model", "ema"} <= set(data)


def test_failed_write_keeps_previous_file(tmp_path):
    path = tmp_path / "model_final.pth"
    path.write_bytes(b"old")

    def _crash(f):
        f.write(b"half of a checkp")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(str(path), _crash)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model_final.pth"]  # temporary file removed


def test_refuses_non_finite_weights(tmp_path):
    model = _model()
    PRNetCheckpointer(model, str(tmp_path)).save("model_0000001")
    with torch.no_grad():
        model[2].weight[0, 0, 0, 0] = float("nan")
    assert first_non_finite(model.state_dict()) == "2.weight"
    with pytest.raises(FloatingPointError, match=r"'2\.weight'"):
        PRNetCheckpointer(model, str(tmp_path)).save("model_0000002")
    assert not (tmp_path / "model_0000002.pth").exists()
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000001.pth"


def test_resume_round_trip_weights_only(tmp_path):
    model = _model()
    PRNetCheckpointer(model, str(tmp_path)).save("model_final")
    other = _model()
    PRNetCheckpointer(other, str(tmp_path)).resume_or_load("", resume=True)
    torch.testing.assert_close(other.state_dict(), model.state_dict())


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_loading_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"model": {}, "x": _Payload()}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError):
        PRNetCheckpointer(_model()).load(str(path))


def test_mismatch_report_names_keys(tmp_path, caplog):
    src = _model(num_classes=3)
    src.add_module("extra", nn.Linear(2, 2))
    PRNetCheckpointer(src, str(tmp_path)).save("other")
    dst = nn.Sequential(*list(_model(num_classes=5).children()), nn.Conv2d(5, 1, 1))
    logger = logging.getLogger("prnet_test_ckpt")
    ckpt = PRNetCheckpointer(dst)
    ckpt.logger = logger
    with caplog.at_level(logging.WARNING, logger="prnet_test_ckpt"):
        ckpt.load(str(tmp_path / "other.pth"))
    report = next(r.getMessage() for r in caplog.records
                  if r.getMessage().startswith("Checkpoint does not match"))
    assert "missing in the checkpoint (2" in report and "3.weight" in report
    assert "unexpected, not in the model (2" in report and "extra.weight" in report
    assert "shape mismatch (2" in report
    assert "2.weight (3, 4, 1, 1) in file vs (5, 4, 1, 1) in model" in report
    assert "missing in the checkpoint (2, left at initialisation): 3.weight, 3.bias" in report
