"""``model.num_classes`` from the datasets' metadata: unset (None) it becomes the number of
``thing_classes`` of ``dataloader.train.dataset.names``; set, training and evaluation
(``prnet.engine.train_loop``) require it to agree with every dataset the config names (train and
test), so a wrong value fails before the model is built instead of as a label-range error (or a
silently wrong head) once training runs.

Loading a config (:func:`prnet.config.load_config`) only fills a null value: building a model for
another class count (prediction with a checkpoint, size analysis) stays possible."""

from __future__ import annotations

from collections.abc import Mapping

from omegaconf import DictConfig, OmegaConf

__all__ = ["dataset_classes", "num_classes_problems", "resolve_num_classes"]

_DATASET_KEYS = ("dataloader.train.dataset.names", "dataloader.test.dataset.names")


def _select(cfg, key: str):
    """The value at ``key``, None when it is missing or still ``???``."""
    if isinstance(cfg, DictConfig):
        return OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
    node = cfg
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def dataset_classes(cfg, registered=None) -> list[tuple[str, str, list[str]]]:
    """``(config key, dataset name, thing_classes)`` of each registered dataset named at
    :data:`_DATASET_KEYS` whose metadata holds ``thing_classes``; train first."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    registered = set(DatasetCatalog.list() if registered is None else registered)
    found = []
    for key in _DATASET_KEYS:
        names = _select(cfg, key)
        if names is None or names == "???":
            continue
        for name in [names] if isinstance(names, str) else list(names):
            if name in registered and name in MetadataCatalog.list():
                classes = MetadataCatalog.get(name).get("thing_classes")
                if classes is not None:
                    found.append((key, name, list(classes)))
    return found


def _describe(key: str, name: str, classes: list[str]) -> str:
    shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
    return f"{len(classes)} in dataset {name!r} ({key}: {shown})"


def num_classes_problems(cfg, registered=None, check_agreement: bool = True) -> list[str]:
    """Resolve ``cfg.model.num_classes`` in place (see the module doc); returns the problems
    (empty when it is set and agrees, or was set from the training dataset). ``registered``:
    the dataset names to consider (default: the ``DatasetCatalog``'s)."""
    model = cfg.get("model") if isinstance(cfg, (DictConfig, Mapping)) else None
    if model is None or "num_classes" not in model:
        return []
    found = dataset_classes(cfg, registered)
    if model.num_classes is None:
        train = [f for f in found if f[0] == _DATASET_KEYS[0]]
        if not train:
            return ["model.num_classes is null (taken from the training dataset's metadata) but "
                    f"no registered dataset at {_DATASET_KEYS[0]} has 'thing_classes'; set "
                    "model.num_classes or register the dataset with prnet.data.register_coco / "
                    "register_yolo"]
        model.num_classes = len(train[0][2])
    problems = []
    for key, name, classes in found if check_agreement else ():
        if len(classes) != model.num_classes:
            problems.append(
                f"model.num_classes={model.num_classes} but there are {_describe(key, name, classes)}"
                "; set model.num_classes to the dataset's count, or to null to take it from "
                f"{_DATASET_KEYS[0]}"
            )
    return problems


def resolve_num_classes(cfg, registered=None, check_agreement: bool = True):
    """:func:`num_classes_problems`, raising :class:`~prnet.config.ConfigError` on any; returns
    ``cfg`` (changed in place)."""
    from .check import ConfigError

    problems = num_classes_problems(cfg, registered, check_agreement)
    if problems:
        raise ConfigError(problems)
    return cfg
