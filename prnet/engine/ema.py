"""Exponential moving average (EMA) of a model's weights, as in the reference recipe.

The average covers the whole ``state_dict`` (parameters and floating-point buffers such as BN
running statistics; integer buffers are copied). Its decay ramps up with the number of updates,
``decay * (1 - exp(-updates / tau))``, so early, fast-changing weights are not averaged in for long.
The EMA is a checkpointable (``state_dict``/``load_state_dict``), so resuming restores it exactly.
"""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict

import torch
from torch import nn

__all__ = ["ModelEMA", "unwrap_model"]


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside ``DistributedDataParallel`` / ``DataParallel`` wrappers."""
    while isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        model = model.module
    return model


class ModelEMA:
    """EMA of ``model``'s state, kept on the model's device in float32.

    Args:
        model: the trained model (DDP wrappers are looked through).
        decay: asymptotic decay per update (0.9999 in the reference).
        tau: updates over which the decay ramps up (2000 in the reference).
    """

    def __init__(self, model: nn.Module, decay: float = 0.9999, tau: float = 2000.0):
        if not 0 <= decay < 1:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        if tau <= 0:
            raise ValueError(f"tau must be positive, got {tau}")
        self.model = unwrap_model(model)
        self.decay, self.tau = float(decay), float(tau)
        self.updates = 0
        self.state: OrderedDict[str, torch.Tensor] | None = None

    @property
    def initialized(self) -> bool:
        return self.state is not None

    @property
    def has_average(self) -> bool:
        """Whether the EMA has been updated at least once (before that it is the initial weights,
        which nothing should evaluate, export or predict with)."""
        return self.state is not None and self.updates > 0

    def reset(self) -> None:
        """Start the average from the model's current weights."""
        self.state = OrderedDict(
            (k, v.detach().clone().float() if v.is_floating_point() else v.detach().clone())
            for k, v in self.model.state_dict().items()
        )
        self.updates = 0

    def current_decay(self) -> float:
        return self.decay * (1.0 - math.exp(-self.updates / self.tau))

    @torch.no_grad()
    def update(self) -> None:
        """Fold the model's current weights into the average (call after the optimizer step)."""
        if self.state is None:
            self.reset()
        self.updates += 1
        d = self.current_decay()
        for k, v in self.model.state_dict().items():
            avg = self.state[k]
            if avg.is_floating_point():
                avg.mul_(d).add_(v.detach().to(avg.dtype), alpha=1.0 - d)
            else:
                avg.copy_(v)

    def copy_to(self, model: nn.Module | None = None) -> None:
        """Load the averaged weights into ``model`` (default: the tracked model)."""
        if self.state is None:
            raise RuntimeError("the EMA has no weights yet (reset/update it or load a checkpoint)")
        unwrap_model(model if model is not None else self.model).load_state_dict(self.state)

    @contextlib.contextmanager
    def applied(self, model: nn.Module | None = None):
        """Context in which ``model`` holds the EMA weights (its own ones while the EMA has no
        update yet); its own weights are restored after."""
        target = unwrap_model(model if model is not None else self.model)
        if not self.has_average:
            yield target
            return
        backup = OrderedDict((k, v.detach().clone()) for k, v in target.state_dict().items())
        try:
            target.load_state_dict(self.state)
            yield target
        finally:
            target.load_state_dict(backup)

    # checkpointable (fvcore Checkpointer) ------------------------------------------------------
    def state_dict(self) -> dict:
        if self.state is None:
            return {}
        return {
            "state": OrderedDict((k, v.detach().cpu()) for k, v in self.state.items()),
            "updates": self.updates,
            "decay": self.decay,
            "tau": self.tau,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        if not state_dict:
            return
        device = next(iter(self.model.state_dict().values())).device
        self.state = OrderedDict((k, v.to(device)) for k, v in state_dict["state"].items())
        self.updates = int(state_dict["updates"])
