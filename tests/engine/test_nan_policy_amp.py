"""``train.nan_policy="skip"`` in ``GuardedAMPTrainer`` on CPU.

Detectron2 0.7.2's ``AMPTrainer.run_step`` asserts ``torch.cuda.is_available()`` and enters
``torch.cuda.amp.autocast``, so it cannot run on a CPU-only machine as is. The smallest honest
substitute: the real ``run_step`` with those two names patched to "available" and to CPU
autocast, and a real ``torch.amp.GradScaler("cpu")``: the scaler's inf check, step skipping and
scale backoff are the code that runs on a GPU. Not covered: CUDA kernels and CUDA autocast.
"""

from __future__ import annotations

import pytest
import torch
from detectron2.engine import HookBase
from torch import nn

from prnet.engine import GuardedAMPTrainer


class _NaNAt(nn.Module):
    """``loss_box`` is NaN on the forward calls in ``bad``; a Linear so autocast has work."""

    def __init__(self, bad=()):
        super().__init__()
        self.lin = nn.Linear(4, 2)
        self.bad, self.calls = set(bad), 0

    def forward(self, batch):
        out = self.lin(batch[0])
        box = out.float().pow(2).mean()
        if self.calls in self.bad:
            box = box * float("nan")
        self.calls += 1
        return {"loss_cls": self.lin.weight.abs().sum(), "loss_box": box}


@pytest.fixture
def cpu_amp(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        torch.cuda.amp, "autocast", lambda dtype: torch.autocast("cpu", dtype=dtype)
    )


def _loader():
    while True:
        yield [torch.ones(3, 4)]


@pytest.mark.parametrize("precision, scaled", [(torch.float16, True), (torch.bfloat16, False)])
def test_amp_skip_leaves_weights_untouched(cpu_amp, precision, scaled):
    """float16 runs with an active scaler, bfloat16 with a disabled one (as build_trainer)."""
    model = _NaNAt({1, 3})
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, enabled=scaled)
    trainer = GuardedAMPTrainer(model, _loader(), optim, grad_scaler=scaler, precision=precision)
    trainer.nan_policy, trainer.max_skipped = "skip", 5
    weights, scales = [], []
    trainer.register_hooks([HookBase()])
    trainer._hooks[0].after_step = lambda: (
        weights.append(model.lin.weight.detach().clone()),
        scales.append(scaler.get_scale() if scaled else None),
    )
    trainer.train(0, 5)
    assert trainer.skipped_steps == 2
    torch.testing.assert_close(weights[1], weights[0])  # iteration 1 skipped
    torch.testing.assert_close(weights[3], weights[2])  # iteration 3 skipped
    assert not torch.equal(weights[2], weights[1])  # iteration 2 stepped
    assert torch.isfinite(model.lin.weight).all()
    if scaled:  # the scaler treats a skipped step as an overflow: scale halves, then stays
        assert scales == [2.0**10, 2.0**9, 2.0**9, 2.0**8, 2.0**8]
    state = trainer.state_dict()
    assert state["skipped_steps"] == 2 and "grad_scaler" in state


def test_amp_stop_names_iteration_and_term(cpu_amp):
    model = _NaNAt({2})
    optim = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cpu")
    trainer = GuardedAMPTrainer(model, _loader(), optim, grad_scaler=scaler,
                                precision=torch.bfloat16)
    with pytest.raises(FloatingPointError, match=r"iteration 2: non-finite loss_box \("):
        trainer.train(0, 5)
