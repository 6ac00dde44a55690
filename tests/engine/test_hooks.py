"""Hooks on a toy trainer: EMA cadence, mosaic switch-off (also after a resume), progress bar,
the recipe's momentum and bias-LR warm-up."""

import os

import pytest
import torch
from detectron2.engine import HookBase, SimpleTrainer
from torch import nn

from prnet.engine import (
    CloseMosaicHook,
    EMAHook,
    ModelEMA,
    ProgressBarHook,
    WarmupMomentumAndBiasLR,
)
from prnet.engine.data import SkipSampler
from prnet.utils.testing import repo_root


class _Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))

    def forward(self, batch):
        return {"loss": (self.w * batch[0]).sum() ** 2}


class _Mapper:
    def __init__(self):
        self.mosaic_enabled = True

    def set_mosaic(self, enabled):
        self.mosaic_enabled = enabled


class _Loader:
    def __init__(self):
        self.mapper = _Mapper()

    def __iter__(self):
        while True:
            yield [torch.ones(3)]


def _trainer():
    model = _Toy()
    return model, SimpleTrainer(model, _Loader(), torch.optim.SGD(model.parameters(), lr=0.01))


def test_ema_hook_period_and_close_mosaic():
    model, trainer = _trainer()
    ema = ModelEMA(model, decay=0.5, tau=1.0)
    seen = []
    close = CloseMosaicHook(start_iter=3)
    trainer.register_hooks([EMAHook(ema, period=2), close, ProgressBarHook(5, disable=True)])
    orig = close.before_step

    def spy():
        orig()
        seen.append(trainer.data_loader.mapper.mosaic_enabled)

    close.before_step = spy
    trainer.train(0, 5)
    assert ema.updates == 2  # after iterations 1 and 3
    assert seen == [True, True, True, False, False]


def test_close_mosaic_after_resume_past_start():
    _, trainer = _trainer()
    trainer.register_hooks([CloseMosaicHook(start_iter=1)])
    trainer.train(4, 5)
    assert not trainer.data_loader.mapper.mosaic_enabled


def test_skip_sampler():
    assert list(SkipSampler(range(10), 4)) == [4, 5, 6, 7, 8, 9]


def _recipe_sgd(model, lr=0.08):
    """configs/common/optim.py's SGD (batch 8) on ``model``."""
    from detectron2.config import LazyConfig, instantiate

    sgd = LazyConfig.load(os.path.join(repo_root(), "configs", "common", "optim.py")).SGD
    sgd.lr = lr
    sgd.params.model = model
    return instantiate(sgd)


class _ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.fc = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 1)

    def forward(self, batch):
        x = self.bn(self.conv(batch[0])).mean((2, 3))
        return {"loss": self.fc(x).pow(2).mean()}


class _ImageLoader:
    def __iter__(self):
        while True:
            yield [torch.randn(2, 3, 8, 8)]


def test_recipe_param_groups():
    """Weight decay on conv/linear weights only; biases in their own groups, flagged for the
    bias-LR warm-up; momentum 0.937 with Nesterov."""
    model = _ConvNet()
    opt = _recipe_sgd(model)
    kind = {id(p): n.rsplit(".", 1)[-1] for n, p in model.named_parameters()}
    for group in opt.param_groups:
        names = {kind[id(p)] for p in group["params"]}
        assert group["momentum"] == 0.937 and group["nesterov"]
        if group.get("bias_warmup"):
            assert names == {"bias"} and group["weight_decay"] == 0
        elif group["weight_decay"] == 0:
            in_group = {n for n, p in model.named_parameters() if any(p is q for q in group["params"])}
            assert in_group == {"bn.weight"}
        else:
            assert group["weight_decay"] == pytest.approx(5e-4 / 64) and names == {"weight"}
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))


def test_warmup_ramps_momentum_and_bias_lr_then_hands_over_to_the_schedule():
    """The reference's warm-up over 10 iterations: momentum 0.8 -> 0.937, bias LR from 10x the
    base LR onto the scheduled LR; afterwards both are left to the optimizer and LR schedule."""
    from detectron2.engine import hooks

    from prnet.solver import warmup_decay

    torch.manual_seed(0)
    model = _ConvNet()
    opt = _recipe_sgd(model, lr=0.08)
    trainer = SimpleTrainer(model, _ImageLoader(), opt)
    seen = []

    class _Record(HookBase):
        def before_step(self):
            by_kind = {bool(g.get("bias_warmup")): g for g in opt.param_groups}
            seen.append((by_kind[True]["lr"], by_kind[False]["lr"], by_kind[False]["momentum"]))

    trainer.register_hooks([
        hooks.LRScheduler(scheduler=warmup_decay(epochs=20, warmup_epochs=10)),
        WarmupMomentumAndBiasLR(opt, warmup_iter=10, warmup_momentum=0.8, bias_lr_factor=10.0),
        _Record(),
    ])  # fmt: skip
    trainer.train(0, 20)
    for it, (bias_lr, lr, momentum) in enumerate(seen):
        t = min(it / 10, 1.0)
        assert momentum == pytest.approx(0.8 + t * (0.937 - 0.8))
        assert bias_lr == pytest.approx(lr + (1 - t) * 10 * 0.08)
    assert seen[0][1] < 0.001 and seen[0][0] == pytest.approx(0.8, rel=1e-2)  # LR warm-up from ~0
    assert seen[-1][0] == seen[-1][1] and seen[-1][2] == 0.937

    # resumed in the middle of the warm-up: the target momentum survives the optimizer state
    resumed = _recipe_sgd(_ConvNet(), lr=0.08)
    WarmupMomentumAndBiasLR(resumed, warmup_iter=10)
    state = opt.state_dict()
    for group in state["param_groups"]:
        group["momentum"] = 0.85
    resumed.load_state_dict(state)
    assert all(g["initial_momentum"] == 0.937 for g in resumed.param_groups)


def test_warmup_leaves_optimizers_without_momentum_alone():
    model = _ConvNet()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    trainer = SimpleTrainer(model, _ImageLoader(), opt)
    trainer.register_hooks([WarmupMomentumAndBiasLR(opt, warmup_iter=5)])
    trainer.train(0, 3)
    assert "momentum" not in opt.param_groups[0] and opt.param_groups[0]["lr"] == 1e-3


def test_gradient_clipping_bounds_the_step_and_logs_the_norm():
    from prnet.engine import build_trainer

    model = _Toy()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    trainer = build_trainer(model, _Loader(), opt, clip_grad_norm=0.5)
    trainer.train(0, 1)  # gradient of (w.x)^2 at w = x = 1: 6 per entry, norm 10.4
    step = torch.ones(3) - model.w.detach()
    torch.testing.assert_close(step.norm(), torch.tensor(0.5))
    assert trainer.storage.history("grad_norm").latest() == pytest.approx(6 * 3**0.5)
    with pytest.raises(ValueError, match="clip_grad_norm"):
        build_trainer(model, _Loader(), opt, clip_grad_norm=0.0)
