"""Build a PRNet from a LazyConfig and load trained weights, preferring EMA weights.

Checkpoint formats accepted by :func:`load_weights` (``.pth``/``.pt``/``.pkl`` via Detectron2's
``PathManager``):

* Detectron2's ``DetectionCheckpointer`` file ``{"model": state_dict, ...}``; if it also holds EMA
  weights they are used. prnet's trainer (``tools/lazyconfig_train_net.py``) registers its
  ``prnet.engine`` EMA as the checkpointable ``ema``, saved as ``{"state": {name: tensor},
  "updates", "decay", "tau"}`` (empty before the first update: then ``model`` is used); d2go/
  detrex's ``ema_state`` and ``model_ema`` (tensors possibly nested under ``"state"``/
  ``"module"``/``"state_dict"``/``"model"``) are accepted too.
* a plain model ``state_dict`` (``torch.save(model.state_dict())``);
* an Ultralytics ``.pt`` (YOLO11, the PRNet authors' released weights), read without running
  anything from it and converted to prnet's names (``prnet.checkpoint``).

DDP's ``module.`` prefix is stripped. Missing or unexpected keys raise: an exported model with
half of its weights at initialisation would silently give wrong detections.
"""
from __future__ import annotations

import logging
from typing import Mapping, Sequence

import torch
from torch import nn

__all__ = ["EMA_KEYS", "build_model", "extract_state_dict", "load_weights"]

logger = logging.getLogger(__name__)

#: Checkpoint keys searched, in order, for EMA weights.
EMA_KEYS = ("ema", "ema_state", "model_ema")


def _unwrap(state):
    """EMA checkpointables sometimes nest the tensors one level down."""
    while isinstance(state, Mapping) and not any(torch.is_tensor(v) for v in state.values()):
        for key in ("state", "module", "state_dict", "model", "shadow"):
            if isinstance(state.get(key), Mapping):
                state = state[key]
                break
        else:
            return state
    return state


def extract_state_dict(checkpoint: Mapping, prefer_ema: bool = True) -> tuple[dict, str]:
    """Pick the model weights out of a loaded checkpoint; returns ``(state_dict, source)``.

    ``source`` is the key used (``"ema_state"``, ``"model"``) or ``"state_dict"`` for a plain one.
    """
    if not isinstance(checkpoint, Mapping):
        raise TypeError(f"expected a checkpoint dict, got {type(checkpoint).__name__}")
    candidates = (EMA_KEYS if prefer_ema else ()) + ("model", "state_dict")
    for key in candidates:
        state = _unwrap(checkpoint.get(key))
        if isinstance(state, Mapping) and any(torch.is_tensor(v) for v in state.values()):
            source = key
            break
    else:
        if any(torch.is_tensor(v) for v in checkpoint.values()):
            state, source = checkpoint, "state_dict"
        else:
            raise ValueError(
                f"no model weights found in the checkpoint (keys: {sorted(checkpoint)[:10]}); "
                f"expected 'model', one of {EMA_KEYS}, or a plain state_dict"
            )
    state = {k.removeprefix("module."): v for k, v in state.items() if torch.is_tensor(v)}
    return state, source


def load_weights(model: nn.Module, path: str, prefer_ema: bool = True) -> str:
    """Load ``path`` into ``model`` (EMA weights first, see module doc); returns the source key."""
    from detectron2.utils.file_io import PathManager

    from prnet.checkpoint import (
        is_ultralytics_checkpoint,
        read_ultralytics_checkpoint,
        ultralytics_to_prnet,
    )

    local = PathManager.get_local_path(path)
    if is_ultralytics_checkpoint(local):
        state, report = ultralytics_to_prnet(model, read_ultralytics_checkpoint(local), prefer_ema)
        logger.info("converted %s:\n%s", path, report.summary())
        source = "ultralytics " + ("ema" if prefer_ema else "model")
        if report.left_at_init:
            raise ValueError(f"{path} ({source}) does not fill the model:\n{report.summary()}")
        model.load_state_dict(state)
        return source
    with PathManager.open(path, "rb") as f:
        checkpoint = torch.load(f, map_location="cpu", weights_only=True)  # never runs pickled code
    state, source = extract_state_dict(checkpoint, prefer_ema)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{path} ({source}) does not fit the model: missing {result.missing_keys[:5]} "
            f"({len(result.missing_keys)}), unexpected {result.unexpected_keys[:5]} "
            f"({len(result.unexpected_keys)}). Is --config-file the config it was trained with?"
        )
    logger.info("loaded %s weights from %s", source, path)
    return source


def build_model(
    config_file: str, weights: str | None = None, overrides: Sequence[str] = (), device: str = "cpu"
) -> nn.Module:
    """``LazyConfig.load(config_file)`` + ``key=value`` overrides -> model in eval mode on ``device``.

    Without ``weights`` the model keeps its initialisation (tests, shape checks).
    """
    from detectron2.config import LazyConfig, instantiate

    cfg = LazyConfig.apply_overrides(LazyConfig.load(config_file), list(overrides))
    model = instantiate(cfg.model)
    if weights:
        load_weights(model, weights)
    return model.to(device).eval()
