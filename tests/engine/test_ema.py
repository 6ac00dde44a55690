import math

import pytest
import torch
from torch import nn

from prnet.engine import ModelEMA
from prnet.solver import ema_recent_share, resolve_ema


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


def _pulled_weight(steps, ema_settings):
    """A weight pulled from 0 towards 15 at constant speed (an L1 loss with SGD), arriving at the
    last step, like a model still learning when training stops; an EMA updated after every step.
    Returns the losses of the initial, raw final and EMA final weights."""
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.zero_()
    loss = lambda: float((model.weight.detach() - 15).abs().sum())  # noqa: E731
    start = loss()
    ema = ModelEMA(model, *ema_settings)
    ema.reset()
    opt = torch.optim.SGD(model.parameters(), lr=15 / steps)
    for _ in range(steps):
        opt.zero_grad()
        (model.weight - 15).abs().sum().backward()
        opt.step()
        ema.update()
    raw = loss()
    with ema.applied(model):
        averaged = loss()
    return start, raw, averaged


def test_short_schedule_ema_follows_the_raw_weights():
    """On the demo's 600 updates, ``decay="auto"`` gives an EMA whose loss follows the raw
    weights' down (a lag of a few percent of the run); the old demo setting (decay 0.9999 ramped
    over 50 updates) stops following after a few hundred updates and is now refused."""
    steps = 600
    start, raw, averaged = _pulled_weight(steps, resolve_ema("auto", "auto", steps))
    assert raw < 1e-3 * start
    assert averaged < 0.15 * start

    _, _, frozen = _pulled_weight(steps, (0.9999, 50.0))
    assert frozen > 0.5 * start  # the weights of around the first half of the run
    with pytest.raises(ValueError, match=r"last quarter of training.*decay=auto"):
        resolve_ema(0.9999, 50, steps)


def test_resolve_ema_keeps_the_reference_on_paper_schedules():
    # VisDrone train, 350 epochs, one update per 64 images: ~35,000 updates
    assert resolve_ema(0.9999, 2000, 35_390) == (0.9999, 2000.0)
    assert ema_recent_share(0.9999, 2000, 35_390) > 0.5
    # a long ramp on a short run: the EMA is (nearly) the raw weights, which is safe
    assert ema_recent_share(0.9999, 2000, 563) > 0.99
    # "auto": a window of a twentieth of the run, ramped over half of it
    decay, tau = resolve_ema("auto", "auto", 1000)
    assert decay == pytest.approx(0.98) and tau == pytest.approx(25.0)
    assert resolve_ema("auto", 2000, 1000)[1] == 2000.0
    assert resolve_ema("auto", "auto", 3)[0] == 0.0  # too short to average: raw weights
    for bad in ((1.0, 10), (0.9, 0)):
        with pytest.raises(ValueError):
            resolve_ema(*bad, 100)


def test_recent_share_matches_a_direct_simulation():
    decay, tau, updates = 0.98, 20.0, 200
    weight_of_update = []
    for i in range(1, updates + 1):  # weight of update i in the final average
        w = 1 - decay * (1 - math.exp(-i / tau))
        for j in range(i + 1, updates + 1):
            w *= decay * (1 - math.exp(-j / tau))
        weight_of_update.append(w)
    assert ema_recent_share(decay, tau, updates) == pytest.approx(sum(weight_of_update[150:]))
