"""prnet.solver: the recipe translation and the epoch schedule."""

import pytest
import torch
from torch import nn

from prnet.solver import (
    batch_mean_lr,
    batch_mean_weight_decay,
    ema_update_period,
    epochs_to_iters,
    resolve_schedule,
    warmup_decay,
)


def test_translation_gives_the_same_update_per_64_images():
    """Plain SGD, per-image loss linear in the weights (so the gradient does not depend on when it
    is taken): the reference (summed loss, accumulate to 64, lr 0.01, wd 5e-4) and prnet (mean
    loss, batch B, lr 0.01 B, wd 5e-4 / 64) move the weights alike."""
    torch.manual_seed(0)
    targets = torch.randn(64, 5)
    w0 = torch.randn(5)

    def run(batch, lr, wd, summed):
        w = nn.Parameter(w0.clone())
        opt = torch.optim.SGD([w], lr=lr, weight_decay=wd)
        if summed:  # one step after accumulating all 64 per-image losses
            opt.zero_grad()
            for i in range(0, 64, batch):
                (targets[i : i + batch] @ w).sum().backward()
            opt.step()
        else:
            for i in range(0, 64, batch):
                opt.zero_grad()
                (targets[i : i + batch] @ w).mean().backward()
                opt.step()
        return w.detach()

    ref = run(8, 0.01, 5e-4, summed=True)
    for batch in (2, 8, 16):
        got = run(batch, batch_mean_lr(0.01, batch), batch_mean_weight_decay(5e-4), summed=False)
        torch.testing.assert_close(got - w0, ref - w0, rtol=1e-4, atol=1e-7)
    wrong = run(8, 0.01, 5e-4, summed=False)  # the untranslated recipe moves 8x less
    assert (wrong - w0).norm() < 0.2 * (ref - w0).norm()
    assert batch_mean_lr(0.01, 64) == pytest.approx(0.64)
    assert batch_mean_weight_decay(5e-4) == pytest.approx(5e-4 / 64)


def test_epochs_and_periods():
    assert epochs_to_iters(350, 6471, 8) == 283_107  # ceil(350 * 6471 / 8)
    assert epochs_to_iters(1, 10, 4) == 3
    assert ema_update_period(8) == 8 and ema_update_period(64) == 1 and ema_update_period(128) == 1
    train = dict(epochs=350, close_mosaic_epochs=10, eval_epochs=10, images_per_epoch=None,
                 max_iter=None, eval_period=None, checkpointer=dict(period=None),
                 ema=dict(period=None))
    s = resolve_schedule(train, images_per_epoch=6471, total_batch_size=8)
    assert s.max_iter == 283_107 and s.iters_per_epoch == 809
    assert s.close_mosaic_iter == s.max_iter - epochs_to_iters(10, 6471, 8)
    assert s.eval_period == s.checkpoint_period == epochs_to_iters(10, 6471, 8)
    assert s.ema_period == 8
    s = resolve_schedule({**train, "max_iter": 100, "eval_period": 0}, 6471, 8)
    assert s.max_iter == 100 and s.eval_period == 0 and s.checkpoint_period == 100
    assert s.close_mosaic_iter == 0


def test_warmup_then_decay():
    lin = warmup_decay(350, 3)
    assert lin(0.0) == pytest.approx(0.001)
    assert lin(0.5) == pytest.approx(1 - 0.99 * 0.5)
    cos = warmup_decay(100, 1, decay="cosine")
    assert cos(0.5) == pytest.approx(0.505)
    with pytest.raises(ValueError):
        warmup_decay(10, 10)
    with pytest.raises(ValueError):
        warmup_decay(10, 1, decay="step")
