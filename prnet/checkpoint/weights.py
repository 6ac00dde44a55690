"""The one way prnet reads a weights file: prnet and Detectron2 checkpoints, plain state dicts and
Ultralytics ``.pt`` files, never running code from the file, EMA weights preferred.

Formats (:func:`read_checkpoint`, :func:`extract_state_dict`):

* Detectron2's ``DetectionCheckpointer`` file ``{"model": state_dict, ...}``; if it also holds EMA
  weights they are used. prnet's trainer saves its EMA as the checkpointable ``ema``:
  ``{"state": {name: tensor}, "updates", "decay", "tau"}`` (empty or with 0 updates before the
  first update: then ``model`` is used); d2go/detrex's ``ema_state`` and ``model_ema`` (tensors
  possibly nested under ``"state"``/``"module"``/``"state_dict"``/``"model"``) are accepted too;
* a plain model ``state_dict`` (``torch.save(model.state_dict())``);
* an Ultralytics ``.pt`` (YOLO11, the PRNet authors' released weights), read with the restricted
  reader of :mod:`.ultralytics` and converted to the model's names (:mod:`.from_ultralytics`).

Everything else is read with ``torch.load(weights_only=True)``: tensors and plain containers only.
DDP's ``module.`` prefix is stripped.
"""
from __future__ import annotations

import logging
import os
import pickle
from typing import Mapping

import torch
from detectron2.utils.file_io import PathManager
from torch import nn

from .from_ultralytics import ultralytics_to_prnet
from .ultralytics import (
    UnsafeCheckpointError,
    is_ultralytics_checkpoint,
    read_ultralytics_checkpoint,
)

__all__ = [
    "EMA_KEYS",
    "CheckpointReadError",
    "extract_state_dict",
    "load_weights",
    "read_checkpoint",
]

logger = logging.getLogger(__name__)

class CheckpointReadError(ValueError):
    """A weights file that cannot be read: truncated, corrupt, or holding more than tensors."""


#: Checkpoint keys searched, in order, for EMA weights.
EMA_KEYS = ("ema", "ema_state", "model_ema")


def read_checkpoint(path: str | os.PathLike, model: nn.Module | None = None) -> dict:
    """The contents of a weights file as plain data, without running code from it.

    An Ultralytics file becomes ``{"model": <its EMA (else model) weights under model's names>,
    "__author__": "ultralytics", "matching_heuristics": False}`` and needs ``model``; any other
    file is ``torch.load(weights_only=True)``, wrapped as ``{"model": ...}`` if it is a bare
    state dict.
    """
    local = PathManager.get_local_path(os.fspath(path))
    if is_ultralytics_checkpoint(local):
        if model is None:
            raise ValueError(f"{path} is an Ultralytics checkpoint: converting it needs the model")
        state, report = ultralytics_to_prnet(model, read_ultralytics_checkpoint(local))
        logger.info("Converted %s:\n%s", path, report.summary())
        return {"model": state, "__author__": "ultralytics", "matching_heuristics": False}
    if not PathManager.exists(os.fspath(path)):
        raise FileNotFoundError(f"weights file {path} does not exist")
    try:
        with PathManager.open(os.fspath(path), "rb") as f:
            data = torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # weights_only refused something: say what
        raise UnsafeCheckpointError(
            f"{path}: refused, it holds more than tensors and plain containers; prnet reads "
            f"weights without running code from the file ({str(e).splitlines()[-3].strip()})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointReadError(
            f"{path}: not a complete checkpoint ({type(e).__name__}: {e}); was it cut short by "
            "a crash or a full disk? Use an earlier checkpoint of the run."
        ) from None
    if not isinstance(data, Mapping) or "model" not in data:
        data = {"model": data}
    return data


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
        entry = checkpoint.get(key)
        if key in EMA_KEYS and isinstance(entry, Mapping) and entry.get("updates") == 0:
            continue  # an EMA never updated holds the initial weights
        state = _unwrap(entry)
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


def load_weights(model: nn.Module, path: str | os.PathLike, prefer_ema: bool = True) -> str:
    """Load ``path`` into ``model`` (EMA weights first, see the module docstring); returns where the
    weights came from (``"ema"``, ``"model"``, ...). Missing or unexpected keys raise: a model with
    half of its weights at initialisation would silently give wrong detections."""
    state, source = extract_state_dict(read_checkpoint(path, model), prefer_ema)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{path} ({source}) does not fit the model: missing {result.missing_keys[:5]} "
            f"({len(result.missing_keys)}), unexpected {result.unexpected_keys[:5]} "
            f"({len(result.unexpected_keys)}). Is the config the one it was trained with?"
        )
    logger.info("loaded %s weights from %s", source, path)
    return source
