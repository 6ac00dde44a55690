"""``train.nan_policy`` on a toy model whose loss turns NaN on chosen iterations."""

import pytest
import torch
from detectron2.engine import HookBase
from torch import nn

from prnet.engine import build_trainer


class _NaNAt(nn.Module):
    """Loss ``loss_box`` is NaN on the iterations in ``bad`` (counted by forward calls)."""

    def __init__(self, bad=()):
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))
        self.bad, self.calls = set(bad), 0

    def forward(self, batch):
        box = (self.w * batch[0]).sum() ** 2
        if self.calls in self.bad:
            box = box * float("nan")
        self.calls += 1
        return {"loss_cls": self.w.abs().sum(), "loss_box": box}


def _loader():
    while True:
        yield [torch.ones(3)]


def _trainer(bad, **kwargs):
    model = _NaNAt(bad)
    # momentum and weight decay: a "skipped" step must not move the weights through them either
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=0.1)
    return model, build_trainer(model, _loader(), optim, **kwargs)


def test_stop_names_iteration_and_term():
    _, trainer = _trainer({2})
    with pytest.raises(FloatingPointError, match=r"iteration 2: non-finite loss_box \("):
        trainer.train(0, 5)
    assert trainer.iter == 2


def test_skip_leaves_weights_untouched_and_counts():
    model, trainer = _trainer({1, 3}, nan_policy="skip", max_skipped_steps=2)
    weights = []
    trainer.register_hooks([HookBase()])
    trainer._hooks[0].after_step = lambda: weights.append(model.w.detach().clone())
    trainer.train(0, 5)
    assert trainer.skipped_steps == 2
    torch.testing.assert_close(weights[1], weights[0])  # iteration 1 skipped
    torch.testing.assert_close(weights[3], weights[2])  # iteration 3 skipped
    assert not torch.equal(weights[2], weights[1])  # iteration 2 stepped
    assert torch.isfinite(model.w).all()
    assert trainer.storage.history("skipped_steps").latest() == 2
    # checkpoint-visible state, restored on resume
    state = trainer.state_dict()
    assert state["skipped_steps"] == 2
    _, other = _trainer((), nan_policy="skip")
    other.load_state_dict(state)
    assert other.skipped_steps == 2


def test_skip_gives_up_after_max():
    _, trainer = _trainer({0, 1, 2}, nan_policy="skip", max_skipped_steps=2)
    msg = r"3 optimizer steps skipped .*train\.max_skipped_steps=2"
    with pytest.raises(FloatingPointError, match=msg):
        trainer.train(0, 5)


def test_unknown_policy():
    with pytest.raises(ValueError, match="nan_policy"):
        _trainer((), nan_policy="ignore")
