"""Training hooks that Detectron2 lacks: EMA of weights, the recipe's momentum and bias-LR warm-up,
mosaic switch-off, a progress bar, ``results.png``.

Each is a ``detectron2.engine.HookBase``; register them with ``trainer.register_hooks``. Best-
checkpoint saving uses Detectron2's own ``hooks.BestCheckpointer``; what a non-finite loss does
(stop, or skip the step) is the trainer's ``nan_policy`` (``prnet.engine.trainer``).
"""

from __future__ import annotations

import json
import logging
import os
import re

from detectron2.engine import HookBase, hooks
from detectron2.utils import comm

from .ema import ModelEMA

__all__ = [
    "BestCheckpointer",
    "CloseMosaicHook",
    "EMAHook",
    "PeriodicCheckpointer",
    "ProgressBarHook",
    "TrainingCurvesHook",
    "WarmupMomentumAndBiasLR",
]

logger = logging.getLogger(__name__)


class EMAHook(HookBase):
    """Update a :class:`ModelEMA` after every ``period``-th optimizer step.

    The EMA starts from the model's weights at ``before_train`` unless a checkpoint already
    restored it (register the EMA as a checkpointable: ``DetectionCheckpointer(..., ema=ema)``).
    Register this hook before evaluation and checkpoint hooks so they see the updated average.
    """

    def __init__(self, ema: ModelEMA, period: int = 1):
        if period < 1:
            raise ValueError(f"period must be >= 1, got {period}")
        self.ema, self.period = ema, int(period)

    def before_train(self):
        if not self.ema.initialized:
            self.ema.reset()

    def after_step(self):
        if (self.trainer.iter + 1) % self.period == 0:
            self.ema.update()
            if (self.trainer.iter + 1) % 20 == 0:
                self.trainer.storage.put_scalar("ema_decay", self.ema.current_decay())


class WarmupMomentumAndBiasLR(HookBase):
    """The YOLO recipe's warm-up of what Detectron2's LR scheduler does not touch.

    For the first ``warmup_iter`` iterations (``t = iter / warmup_iter`` from 0 to 1):

    * SGD momentum ramps linearly from ``warmup_momentum`` (0.8) to the optimizer's own (0.937);
      optimizers without a ``momentum`` key (Adam/AdamW) are left alone, as in the reference;
    * the LR of bias parameters starts ``bias_lr_factor`` times above the base LR (the reference:
      0.1 for an lr0 of 0.01) and falls linearly onto the scheduled LR:
      ``lr_bias = lr_scheduled + (1 - t) * bias_lr_factor * base_lr``. Bias groups are the
      optimizer's param groups with ``bias_warmup=True`` (set through
      ``get_default_optimizer_params(overrides={"bias": {"bias_warmup": True, ...}})``).

    Register it after ``hooks.LRScheduler``: it overrides the scheduled LR of the bias groups in
    ``before_step``. It is stateless given the iteration, so ``--resume`` needs nothing more; the
    target momentum is recorded in each group as ``initial_momentum`` (saved with the optimizer)
    when the hook is built, before a checkpoint can overwrite ``momentum``.
    """

    def __init__(
        self,
        optimizer,
        warmup_iter: int,
        warmup_momentum: float | None = 0.8,
        bias_lr_factor: float | None = 10.0,
    ):
        self.optimizer = optimizer
        self.warmup_iter = int(warmup_iter)
        self.warmup_momentum = warmup_momentum
        self.bias_lr_factor = bias_lr_factor or 0.0
        for group in optimizer.param_groups:
            if "momentum" in group:
                group.setdefault("initial_momentum", group["momentum"])
            group.setdefault("initial_lr", group["lr"])

    def before_step(self):
        it = self.trainer.iter
        if it > self.warmup_iter or self.warmup_iter <= 0:
            return
        t = it / self.warmup_iter
        for group in self.optimizer.param_groups:
            if self.warmup_momentum is not None and "initial_momentum" in group:
                target = group["initial_momentum"]
                group["momentum"] = self.warmup_momentum + t * (target - self.warmup_momentum)
            if group.get("bias_warmup") and it < self.warmup_iter:
                group["lr"] = group["lr"] + (1.0 - t) * self.bias_lr_factor * group["initial_lr"]


class CloseMosaicHook(HookBase):
    """Switch mosaic off from iteration ``start_iter`` on (the recipe: the last 10 epochs).

    Calls ``mapper.set_mosaic(False)`` on the mapper of the trainer's data loader
    (``build_yolo_train_loader`` exposes it as ``loader.mapper``); works after resuming past
    ``start_iter`` too. Samples already prefetched by DataLoader workers keep their mosaic.
    """

    def __init__(self, start_iter: int, mapper=None):
        self.start_iter = int(start_iter)
        self._mapper = mapper
        self._closed = False

    def _get_mapper(self):
        if self._mapper is not None:
            return self._mapper
        return getattr(self.trainer.data_loader, "mapper", None)

    def before_step(self):
        if self._closed or self.trainer.iter < self.start_iter:
            return
        mapper = self._get_mapper()
        if mapper is None or not hasattr(mapper, "set_mosaic"):
            logger.warning("CloseMosaicHook: the data loader has no mapper with set_mosaic()")
        else:
            mapper.set_mosaic(False)
            logger.info(f"Mosaic switched off from iteration {self.trainer.iter}.")
        self._closed = True


class ProgressBarHook(HookBase):
    """A tqdm progress bar with ETA over the training iterations (main process only).

    Shows the smoothed total loss and the learning rate from Detectron2's event storage. tqdm's
    ``disable=None`` hides the bar when stdout is not a terminal (logs, CI).
    """

    def __init__(self, max_iter: int, disable: bool | None = None, smoothing_window: int = 20):
        self.max_iter = int(max_iter)
        self.disable = disable
        self.window = smoothing_window
        self._bar = None

    def before_train(self):
        if not comm.is_main_process():
            return
        from tqdm import tqdm

        self._bar = tqdm(
            total=self.max_iter,
            initial=self.trainer.start_iter,
            desc="train",
            unit="it",
            dynamic_ncols=True,
            disable=self.disable,
            leave=True,
        )

    def after_step(self):
        if self._bar is None:
            return
        self._bar.update(1)
        storage = self.trainer.storage
        postfix = {}
        history = storage.histories()
        if "total_loss" in history:
            postfix["loss"] = f"{history['total_loss'].median(self.window):.3f}"
        if "lr" in history:
            postfix["lr"] = f"{history['lr'].latest():.3g}"
        if postfix:
            self._bar.set_postfix(postfix, refresh=False)

    def after_train(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class PeriodicCheckpointer(hooks.PeriodicCheckpointer):
    """Detectron2's periodic checkpointer with ``max_to_keep`` holding across resumes: the
    ``model_XXXXXXX.pth`` files an earlier (interrupted) run wrote count towards the limit."""

    def before_train(self):
        super().before_train()
        save_dir = self.checkpointer.save_dir
        if not self.max_to_keep or not save_dir or not os.path.isdir(save_dir):
            return
        pattern = re.compile(r"^model_(\d{7})\.pth$")
        earlier = sorted(n for n in os.listdir(save_dir) if pattern.match(n)
                         and int(pattern.match(n).group(1)) < self.trainer.start_iter)  # fmt: skip
        for name in earlier[: -self.max_to_keep]:  # beyond the limit already: the oldest go
            os.remove(os.path.join(save_dir, name))
        self.recent_checkpoints = [os.path.join(save_dir, n) for n in earlier[-self.max_to_keep :]]


class BestCheckpointer(hooks.BestCheckpointer):
    """Detectron2's best checkpointer whose best score survives ``--resume``: every new best is
    also written to ``<file_prefix>.json`` (metric, value, iteration) and read back before
    training, so a resumed run only replaces ``model_best.pth`` with a better model. Its
    checkpointer should not move ``last_checkpoint`` (``tags_last_checkpoint=False``)."""

    def _record_path(self) -> str:
        return os.path.join(self._checkpointer.save_dir, f"{self._file_prefix}.json")

    def before_train(self):
        path = self._record_path()
        if self.trainer.start_iter > 0 and os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                record = json.load(f)
            if record.get("metric") == self._val_metric:
                self.best_metric, self.best_iter = record["value"], record["iteration"]
                self._logger.info(
                    f"Best {self._val_metric} so far: {self.best_metric:.5f} @ {self.best_iter}"
                )

    def _update_best(self, val, iteration):
        updated = super()._update_best(val, iteration)
        if updated and comm.is_main_process():
            record = {"metric": self._val_metric, "value": float(val), "iteration": int(iteration)}
            with open(self._record_path(), "w", encoding="utf-8") as f:
                json.dump(record, f)
        return updated


class TrainingCurvesHook(HookBase):
    """Draw ``results.png`` (``prnet.evaluation.plots.plot_training_curves``) from the training's
    ``metrics.json`` after every ``period``-th iteration (the evaluations) and when training ends.

    Register it after Detectron2's ``PeriodicWriter``, which writes ``metrics.json``, so the plot
    shows the iteration just logged. A plot that fails is a warning, never the end of a run.
    """

    def __init__(self, metrics_json: str, output_png: str, period: int):
        self.metrics_json, self.output_png, self.period = metrics_json, output_png, int(period)

    def _plot(self):
        if not os.path.isfile(self.metrics_json):
            return
        from prnet.evaluation.plots import plot_training_curves

        try:
            plot_training_curves(self.metrics_json, self.output_png)
        except Exception as e:  # noqa: BLE001 - a picture must not stop training
            logger.warning(f"could not draw {self.output_png}: {e!r}")

    def after_step(self):
        next_iter = self.trainer.iter + 1
        if self.period > 0 and next_iter % self.period == 0 and next_iter < self.trainer.max_iter:
            self._plot()

    def after_train(self):
        self._plot()
