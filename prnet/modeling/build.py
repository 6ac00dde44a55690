"""Build a prnet model from a LazyConfig file, optionally with trained weights: what prediction,
export, benchmarks and analysis start from."""
from __future__ import annotations

from collections.abc import Sequence

from detectron2.config import instantiate
from torch import nn

from prnet.checkpoint import load_weights
from prnet.config import load_config

__all__ = ["build_model"]


def build_model(
    config_file: str, weights: str | None = None, overrides: Sequence[str] = (), device: str = "cpu"
) -> nn.Module:
    """``config_file`` + checked ``key=value`` overrides -> the config's ``model`` in eval mode on
    ``device``, with ``weights`` loaded (EMA preferred; :func:`prnet.checkpoint.load_weights`).
    Without ``weights`` the model keeps its initialisation (tests, shape checks)."""
    cfg = load_config(config_file, overrides)
    model = instantiate(cfg.model)
    if weights:
        load_weights(model, weights)
    return model.to(device).eval()
