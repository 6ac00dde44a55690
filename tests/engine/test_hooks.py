"""Hooks on a toy trainer: EMA cadence, mosaic switch-off (also after a resume), progress bar."""

import torch
from detectron2.engine import SimpleTrainer
from torch import nn

from prnet.engine import CloseMosaicHook, EMAHook, ModelEMA, ProgressBarHook
from prnet.engine.data import SkipSampler


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
