"""The paper's training recipe (docs/paper.md, docs/recipe.md) expressed for Detectron2.

The reference (an Ultralytics YOLO11 fork) trains with SGD, lr 0.01, momentum 0.9 (nesterov),
weight decay 5e-4 at a *nominal batch* of 64 images: with a batch of ``b`` images it sums the loss
over the batch (batch-mean loss times ``b``), accumulates gradients over ``a = round(64 / b)``
batches, then takes one optimizer step, and it scales the weight decay by ``b * a / 64`` (= 1
when ``b`` divides 64). prnet's losses are batch means (Detectron2 convention) and it takes one
step per batch of ``B`` images (the total batch over all GPUs), without accumulation.

Derivation (plain SGD; ``l_i`` is the loss of image ``i``, ``w`` the weights):

* Reference, one step per 64 images::

      dw = -0.01 * (sum_{i in 64 images} grad l_i + 5e-4 * w)

* prnet, one step per ``B`` images with lr ``η`` and weight decay ``λ``::

      dw = -η * ((1 / B) * sum_{i in B images} grad l_i + λ * w)

  Over the same 64 images (``64 / B`` steps, weights nearly constant)::

      dw = -η * ((1 / B) * sum_{i in 64 images} grad l_i + (64 / B) * λ * w)

* Equal updates per image require ``η / B = 0.01`` and ``η * (64 / B) * λ = 0.01 * 5e-4``, so::

      η = 0.01 * B            (batch_mean_lr)
      λ = 5e-4 / 64           (batch_mean_weight_decay; independent of B)

Momentum stays 0.937: with momentum ``β`` every gradient is eventually applied ``1 / (1 - β)`` times,
so the total contribution of each image is the same as in the reference; it is spread over 16 steps
of ``B`` images instead of 16 steps of 64 images. (The reference also normalises its classification
loss by the sum of target scores *over the batch*, so "sum over images" is an approximation there,
as in every batch-size translation of that recipe.) Weight decay applies to conv/linear weights
only, not to norm layers or biases (``get_default_optimizer_params(weight_decay_norm=0,
weight_decay_bias=0)``), as in the reference's three parameter groups.

The reference clips the total gradient norm at 10 before each step; its gradient is that of the
loss summed over the 64 images, about 64 times prnet's batch-mean gradient, so prnet clips at
``10 / 64`` (``train.clip_grad_norm``): with the LR above, the clipped update per image matches.

The EMA of weights is updated once per optimizer step in the reference, i.e. once per 64 images:
:func:`ema_update_period` gives the same cadence in prnet iterations. Its decay ``0.9999`` ramped
with ``tau = 2000`` updates averages over the last ~10,000 updates, a sensible window for the
paper's ~35,000; on a run of a few hundred updates a long ramp makes the EMA equal to the raw
weights and a short one freezes it on early weights. :func:`resolve_ema` checks that the average
follows the run and derives a window from the schedule on request (``decay="auto"``).

The schedule is written in epochs (350 epochs, 3 warm-up epochs, mosaic off for the last 10) and
converted to iterations once the dataset size and batch are known (:func:`resolve_schedule`).
The learning-rate multiplier (:func:`warmup_decay`) is a fraction-of-training schedule, so it only
needs the ratio of warm-up to total epochs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fvcore.common.param_scheduler import (
    CosineParamScheduler,
    LinearParamScheduler,
    ParamScheduler,
)
from detectron2.solver import WarmupParamScheduler

__all__ = [
    "EMA_AUTO_WINDOW",
    "NOMINAL_BATCH_SIZE",
    "TrainSchedule",
    "auto_ema",
    "batch_mean_lr",
    "batch_mean_weight_decay",
    "ema_recent_share",
    "ema_update_period",
    "epochs_to_iters",
    "resolve_ema",
    "resolve_schedule",
    "warmup_decay",
]

#: The reference accumulates gradients to this many images per optimizer step.
NOMINAL_BATCH_SIZE = 64


def _positive(name: str, value) -> None:
    if not value or value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")


def batch_mean_lr(base_lr: float, total_batch_size: int) -> float:
    """Learning rate for batch-mean losses that matches ``base_lr`` on per-image-summed losses
    with a nominal batch (module docstring): ``base_lr * total_batch_size``."""
    _positive("total_batch_size", total_batch_size)
    return float(base_lr) * int(total_batch_size)


def batch_mean_weight_decay(
    base_weight_decay: float, nominal_batch_size: int = NOMINAL_BATCH_SIZE
) -> float:
    """Weight decay for batch-mean losses without accumulation (module docstring):
    ``base_weight_decay / nominal_batch_size``, whatever the batch."""
    _positive("nominal_batch_size", nominal_batch_size)
    return float(base_weight_decay) / int(nominal_batch_size)


def ema_update_period(total_batch_size: int, nominal_batch_size: int = NOMINAL_BATCH_SIZE) -> int:
    """Iterations per EMA update so that EMA is updated once per nominal batch, as in the
    reference (one update per accumulated optimizer step)."""
    _positive("total_batch_size", total_batch_size)
    return max(round(nominal_batch_size / total_batch_size), 1)


#: ``decay="auto"``: the EMA averages over about this fraction of the run's updates (window
#: ``1 / (1 - decay)``), and its decay ramps up over half of that (``tau``).
EMA_AUTO_WINDOW = 0.05
#: The share of the final average that must come from the last quarter of the updates: a plain
#: average over the whole run gives exactly 0.25; less means the EMA lags behind even that.
EMA_MIN_RECENT_SHARE = 0.25


def ema_recent_share(decay: float, tau: float, updates: int, fraction: float = 0.25) -> float:
    """Share of the final EMA that comes from the last ``fraction`` of ``updates`` updates.

    The EMA after ``updates`` updates is a weighted sum of the initial weights and every update's
    weights; the weights of everything up to update ``k`` together are ``prod_{j > k} d_j`` (with
    ``d_j = decay * (1 - exp(-j / tau))``, see :class:`prnet.engine.ModelEMA`), so the rest comes
    from the last ``updates - k`` updates. 1.0 for an EMA that follows the raw weights; near 0 for
    one frozen on early weights.
    """
    if updates <= 0:
        return 1.0
    last = max(math.ceil(fraction * updates), 1)
    j = np.arange(updates - last + 1, updates + 1, dtype=np.float64)
    d = decay * (1.0 - np.exp(-j / tau))
    if (d <= 0).any():
        return 1.0
    return float(1.0 - np.exp(np.log(d).sum()))


def auto_ema(updates: int, window: float = EMA_AUTO_WINDOW) -> tuple[float, float]:
    """``(decay, tau)`` whose averaging window is ``window`` of a run of ``updates`` EMA updates
    (decay ``1 - 1 / (window * updates)``, at least 0), ramped over half the window."""
    span = window * max(int(updates), 1)
    return max(1.0 - 1.0 / span, 0.0), max(span / 2.0, 1.0)


def resolve_ema(decay, tau, updates: int) -> tuple[float, float]:
    """The EMA's ``(decay, tau)`` for a run of ``updates`` updates: ``"auto"`` (either key) takes
    :func:`auto_ema`'s value; the result is refused with a ``ValueError`` when the average would
    not follow the run (:data:`EMA_MIN_RECENT_SHARE` of it from the last quarter of training)."""
    derived = auto_ema(updates)
    decay = derived[0] if decay == "auto" else float(decay)
    tau = derived[1] if tau == "auto" else float(tau)
    if not 0 <= decay < 1:
        raise ValueError(f"train.ema.decay must be in [0, 1) or 'auto', got {decay}")
    if tau <= 0:
        raise ValueError(f"train.ema.tau must be positive or 'auto', got {tau}")
    share = ema_recent_share(decay, tau, updates)
    if share < EMA_MIN_RECENT_SHARE:
        window = 1.0 / (1.0 - decay) if decay < 1 else float("inf")
        raise ValueError(
            f"train.ema: decay {decay:g} with tau {tau:g} averages over ~{window:.0f} updates, but "
            f"this run has only {updates} EMA updates: {share:.1%} of the final average would come "
            f"from the last quarter of training (a plain average gives 25%), so the EMA would stay "
            f"close to early weights. Use train.ema.decay=auto train.ema.tau=auto (here decay "
            f"{derived[0]:.4g}, tau {derived[1]:.3g}), a smaller decay, or train.ema.enabled=False."
        )
    return decay, tau


def epochs_to_iters(epochs: float, images_per_epoch: int, total_batch_size: int) -> int:
    """Iterations that show ``epochs`` passes over ``images_per_epoch`` images, ``total_batch_size``
    images per iteration (rounded up; 0 epochs -> 0 iterations)."""
    _positive("images_per_epoch", images_per_epoch)
    _positive("total_batch_size", total_batch_size)
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    return math.ceil(epochs * images_per_epoch / total_batch_size)


def warmup_decay(
    epochs: float,
    warmup_epochs: float,
    decay: str = "linear",
    final_factor: float = 0.01,
    warmup_factor: float = 0.001,
) -> ParamScheduler:
    """LR multiplier: linear warm-up over ``warmup_epochs``, then ``decay`` ("linear" or "cosine")
    from 1 to ``final_factor`` over the whole training (the reference's ``lrf = 0.01``).

    As in the reference, the decay curve is a function of the whole training, and the warm-up
    replaces its first part (``rescale_interval=False``). Detectron2's ``LRMultiplier`` maps the
    fraction of training to iterations, so only ``warmup_epochs / epochs`` matters here.
    """
    _positive("epochs", epochs)
    if not 0 <= warmup_epochs < epochs:
        raise ValueError(f"warmup_epochs must be in [0, epochs), got {warmup_epochs}")
    if decay == "linear":
        scheduler = LinearParamScheduler(1.0, final_factor)
    elif decay == "cosine":
        scheduler = CosineParamScheduler(1.0, final_factor)
    else:
        raise ValueError(f"decay must be 'linear' or 'cosine', got {decay!r}")
    return WarmupParamScheduler(
        scheduler,
        warmup_factor=warmup_factor,
        warmup_length=warmup_epochs / epochs,
        warmup_method="linear",
        rescale_interval=False,
    )


@dataclass(frozen=True)
class TrainSchedule:
    """Iteration counts of one run (all in iterations of ``total_batch_size`` images).

    ``close_mosaic_iter``: first iteration trained without mosaic (``max_iter`` if never).
    ``warmup_iter``: iterations of the warm-up (the LR multiplier's ``warmup_epochs / epochs``).
    ``eval_period`` / ``checkpoint_period``: 0 disables the periodic event.
    ``ema_period``, ``ema_decay``, ``ema_tau``: one EMA update every ``ema_period`` iterations, with
    that decay and ramp (:func:`resolve_ema`).
    """

    max_iter: int
    iters_per_epoch: int
    close_mosaic_iter: int
    eval_period: int
    checkpoint_period: int
    ema_period: int
    warmup_iter: int = 0
    ema_decay: float = 0.9999
    ema_tau: float = 2000.0


def resolve_schedule(train, images_per_epoch: int, total_batch_size: int) -> TrainSchedule:
    """Turn the epoch-based ``train`` config (``configs/common/train.py``) into iterations.

    Keys read: ``epochs``, ``warmup_epochs``, ``close_mosaic_epochs``, ``eval_epochs``, the
    iteration overrides ``max_iter``, ``eval_period``, ``checkpointer.period``, ``ema.period``
    (each ``None`` means "derive from epochs"), and ``ema.decay``/``ema.tau`` (checked, or derived
    from the number of EMA updates when "auto"; see :func:`resolve_ema`). ``images_per_epoch`` is
    ``train.images_per_epoch`` if set, else what the caller counted in the training set.
    """
    get = lambda key, default=None: train.get(key, default)  # noqa: E731 (dict or DictConfig)
    images = get("images_per_epoch") or images_per_epoch
    per_epoch = epochs_to_iters(1, images, total_batch_size)
    max_iter = get("max_iter")
    if max_iter is None:
        max_iter = epochs_to_iters(get("epochs"), images, total_batch_size)
    max_iter = int(max_iter)
    _positive("max_iter", max_iter)
    close = get("close_mosaic_epochs") or 0
    close_mosaic_iter = max(max_iter - epochs_to_iters(close, images, total_batch_size), 0)
    eval_period = get("eval_period")
    if eval_period is None:
        eval_epochs = get("eval_epochs") or 0
        eval_period = epochs_to_iters(eval_epochs, images, total_batch_size)
    checkpointer = get("checkpointer") or {}
    ckpt_period = checkpointer.get("period")
    if not ckpt_period:  # None: with evaluation; 0: only the final checkpoint
        ckpt_period = eval_period or max_iter
    ema = get("ema") or {}
    ema_period = ema.get("period")
    if ema_period is None:
        ema_period = ema_update_period(total_batch_size)
    ema_decay, ema_tau = 0.9999, 2000.0  # (unused when the EMA is disabled)
    if ema.get("enabled", True):
        ema_decay, ema_tau = resolve_ema(
            ema.get("decay", 0.9999), ema.get("tau", 2000), max_iter // int(ema_period)
        )
    epochs, warmup = get("epochs"), get("warmup_epochs") or 0
    warmup_iter = round(max_iter * warmup / epochs) if epochs else 0
    return TrainSchedule(
        max_iter=max_iter,
        iters_per_epoch=per_epoch,
        close_mosaic_iter=close_mosaic_iter,
        eval_period=int(eval_period),
        checkpoint_period=int(ckpt_period),
        ema_period=int(ema_period),
        warmup_iter=int(warmup_iter),
        ema_decay=ema_decay,
        ema_tau=ema_tau,
    )
