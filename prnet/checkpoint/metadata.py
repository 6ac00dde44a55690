"""What a prnet model says about itself: class names, class count, the model config, the test
image size and the input convention. Checkpoints carry it under :data:`METADATA_KEY`, models built
by :func:`prnet.build_model` carry it as ``model.prnet_meta``, exported files in their metadata, so
prediction needs neither the config nor ``--dataset-meta``.

The dict (plain data: ``torch.load(weights_only=True)`` reads it)::

    {"class_names": [...] or None, "num_classes": K, "image_size": 640,
     "input_format": "RGB", "input_range": [0, 255], "config_file": "configs/...py" or None,
     "overrides": [...], "model_config": {...}, "prnet_version": "0.1.0"}

``model_config`` is ``cfg.model`` with its interpolations resolved and targets as dotted names:
:func:`build_model_from_metadata` instantiates it (targets inside prnet, Detectron2, timm and
``torch.nn`` only, so a file cannot name an arbitrary callable).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

__all__ = [
    "INPUT_CONVENTION",
    "METADATA_KEY",
    "build_model_from_metadata",
    "config_metadata",
    "model_metadata",
    "read_checkpoint_metadata",
]

#: The checkpoint key holding the metadata dict.
METADATA_KEY = "prnet_meta"
#: What every prnet model takes: RGB pixels, 0-255 (normalised inside the model).
INPUT_CONVENTION = {"input_format": "RGB", "input_range": [0, 255]}
#: Module prefixes a stored model config may instantiate.
_SAFE_TARGETS = ("prnet.", "detectron2.", "timm.", "torch.nn.")


def _targets_to_names(node):
    from detectron2.utils.registry import _convert_target_to_string

    if isinstance(node, Mapping):
        out = {k: _targets_to_names(v) for k, v in node.items()}
        if callable(out.get("_target_")):
            out["_target_"] = _convert_target_to_string(out["_target_"])
        return out
    if isinstance(node, (list, tuple)):
        return [_targets_to_names(v) for v in node]
    return node


def _dataset_classes(cfg) -> list[str] | None:
    """``thing_classes`` of the config's (first) training dataset, when it is registered."""
    from detectron2.data import MetadataCatalog

    names = OmegaConf.select(cfg, "dataloader.train.dataset.names", default=None)
    if isinstance(names, (list, tuple)) or OmegaConf.is_list(names):
        names = names[0] if len(names) else None
    if not isinstance(names, str) or names == "???" or names not in MetadataCatalog.list():
        return None
    classes = MetadataCatalog.get(names).get("thing_classes", None)
    return list(classes) if classes else None


def config_metadata(
    cfg: DictConfig,
    config_file: str | None = None,
    overrides: Sequence[str] = (),
    class_names: Sequence[str] | None = None,
) -> dict:
    """The metadata of the model a LazyConfig builds (see the module docstring).

    ``class_names`` default to the training dataset's ``thing_classes`` (known once the dataset
    is registered; Detectron2's COCO loader sets them when the dataset is first read)."""
    import prnet

    classes = list(class_names) if class_names is not None else _dataset_classes(cfg)
    size = OmegaConf.select(cfg, "dataloader.test.mapper.image_size", default=None)
    size = size if size is not None else OmegaConf.select(cfg, "dataloader.train.mapper.image_size")
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    num_classes = model_cfg.get("num_classes")
    if classes is not None and num_classes is not None and len(classes) != int(num_classes):
        classes = None  # names of another dataset than the model's classes: do not mislabel
    return {
        "class_names": classes,
        "num_classes": None if num_classes is None else int(num_classes),
        "image_size": None if size is None else int(size),
        **INPUT_CONVENTION,
        "config_file": None if config_file is None else os.fspath(config_file),
        "overrides": list(overrides),
        "model_config": _targets_to_names(model_cfg),
        "prnet_version": prnet.__version__,
    }


def model_metadata(model) -> dict:
    """The metadata a model carries (``model.prnet_meta``, DDP unwrapped; ``{}`` if none)."""
    model = getattr(model, "module", model)
    return dict(getattr(model, "prnet_meta", None) or {})


def read_checkpoint_metadata(path: str | os.PathLike) -> dict | None:
    """The :data:`METADATA_KEY` dict of a prnet checkpoint (``None`` for files without one:
    older checkpoints, plain state dicts, Ultralytics files)."""
    from .ultralytics import is_ultralytics_checkpoint
    from .weights import read_checkpoint

    if is_ultralytics_checkpoint(os.fspath(path)):
        return None
    meta = read_checkpoint(path).get(METADATA_KEY)
    return dict(meta) if isinstance(meta, Mapping) else None


def _check_targets(node, where: str) -> None:
    if isinstance(node, Mapping):
        target = node.get("_target_")
        if target is not None and not str(target).startswith(_SAFE_TARGETS):
            raise ValueError(
                f"{where}: the stored model config names {target!r}; only targets inside "
                f"{', '.join(p.rstrip('.') for p in _SAFE_TARGETS)} are built from a checkpoint. "
                "Pass the config file instead."
            )
        for v in node.values():
            _check_targets(v, where)
    elif isinstance(node, list):
        for v in node:
            _check_targets(v, where)


def build_model_from_metadata(meta: Mapping, overrides: Sequence[str] = (), where: str = "checkpoint"):
    """Instantiate the metadata's ``model_config`` (``overrides``: ``model.x=y`` items)."""
    from detectron2.config import LazyConfig, instantiate

    model_cfg = meta.get("model_config")
    if not model_cfg:
        raise ValueError(f"{where} carries no model config; pass the config file it was trained with")
    _check_targets(model_cfg, where)
    cfg = OmegaConf.create({"model": model_cfg}, flags={"allow_objects": True})
    bad = [o for o in overrides if not o.startswith("model.")]
    if bad:
        raise ValueError(f"without a config file only model.* overrides apply; got {bad}")
    cfg = LazyConfig.apply_overrides(cfg, list(overrides))
    return instantiate(cfg.model)
