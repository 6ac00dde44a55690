import math

import pytest
import torch
from torch import nn

from prnet.engine import ModelEMA


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


def test_update_follows_ramped_decay():
    model = _model()
    ema = ModelEMA(model, decay=0.9, tau=2.0)
    ema.reset()
    start = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    ema.update()
    d = 0.9 * (1 - math.exp(-1 / 2.0))
    torch.testing.assert_close(ema.state["0.weight"], d * start + (1 - d) * (start + 1))
    # integer buffers are copied, not averaged
    assert ema.state["1.num_batches_tracked"].dtype == torch.int64


def test_applied_restores_weights_and_state_roundtrip():
    model = _model()
    ema = ModelEMA(model, decay=0.5, tau=1.0)
    ema.reset()
    with torch.no_grad():
        model[0].weight.mul_(3.0)
    ema.update()
    raw = {k: v.clone() for k, v in model.state_dict().items()}
    with ema.applied(model):
        torch.testing.assert_close(model[0].weight, ema.state["0.weight"])
    torch.testing.assert_close(model.state_dict(), raw)

    other = ModelEMA(_model())
    assert not other.initialized and other.state_dict() == {}
    other.load_state_dict(ema.state_dict())
    assert other.updates == 1
    torch.testing.assert_close(other.state, ema.state)


def test_ddp_like_wrapper_is_unwrapped_and_bad_args_fail():
    model = _model()
    ema = ModelEMA(nn.DataParallel(model))
    assert ema.model is model
    with pytest.raises(ValueError):
        ModelEMA(model, decay=1.0)
    with pytest.raises(RuntimeError):
        ModelEMA(model).copy_to()
