"""Build a prnet model from a LazyConfig file, or from a checkpoint that carries its config,
optionally with trained weights: what prediction, export, benchmarks and analysis start from."""
from __future__ import annotations

import os
from collections.abc import Sequence

from detectron2.config import instantiate
from torch import nn

from prnet.checkpoint import load_weights
from prnet.checkpoint.metadata import (
    build_model_from_metadata,
    config_metadata,
    read_checkpoint_metadata,
)
from prnet.config import load_config

__all__ = ["build_model"]


def build_model(
    config_file: str | None,
    weights: str | None = None,
    overrides: Sequence[str] = (),
    device: str = "cpu",
) -> nn.Module:
    """``config_file`` + checked ``key=value`` overrides -> the config's ``model`` in eval mode on
    ``device``, with ``weights`` loaded (EMA preferred; :func:`prnet.checkpoint.load_weights`).
    Without ``weights`` the model keeps its initialisation (tests, shape checks).

    ``config_file=None`` builds the model from the config stored in ``weights`` (checkpoints saved
    by prnet's training or converter); ``overrides`` are then ``model.*`` items only. The model
    carries its metadata as ``model.prnet_meta`` (class names, test size, input convention; see
    :mod:`prnet.checkpoint.metadata`): the checkpoint's class names win over the config's."""
    stored = read_checkpoint_metadata(weights) if weights else None
    if config_file is None:
        if not weights:
            raise ValueError("build_model needs a config file, or weights that carry their config")
        if stored is None:
            raise ValueError(
                f"{weights} carries no prnet metadata (an older checkpoint or a plain state dict); "
                "pass the config file it was trained with"
            )
        model = build_model_from_metadata(stored, overrides, where=os.fspath(weights))
        meta = dict(stored, overrides=list(stored.get("overrides", [])) + list(overrides))
        meta["num_classes"] = int(getattr(model, "num_classes", meta.get("num_classes") or 0))
        if meta.get("class_names") and len(meta["class_names"]) != meta["num_classes"]:
            meta["class_names"] = None  # model.num_classes overridden: the names no longer fit
    else:
        cfg = load_config(config_file, overrides)
        model = instantiate(cfg.model)
        meta = config_metadata(cfg, config_file, overrides)
        names = (stored or {}).get("class_names")
        if names and len(names) == meta["num_classes"]:
            meta["class_names"] = list(names)
    if weights:
        load_weights(model, weights)
    model.prnet_meta = meta
    return model.to(device).eval()
