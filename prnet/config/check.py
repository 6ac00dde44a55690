"""Early, readable errors for LazyConfig ``key=value`` overrides and dataset names.

Detectron2's ``LazyConfig.apply_overrides`` creates any key it is given, so a typo such as
``train.max_iters=10`` silently adds an unused key and ``dataloader.train.dataset.names=visdrone``
fails deep inside the data loader. :func:`check_config` reports both before anything is built:
the full key path, the keys allowed at that level (for a ``LazyCall`` node also the arguments of
its target) and ``difflib`` close matches. Keys taking one of a few strings (:data:`CHOICES`, e.g.
``train.data_check``) are checked too, so a typo fails here and not after the model is built.
"""

from __future__ import annotations

import copy
import difflib
import inspect
from collections.abc import Mapping, Sequence

from detectron2.data import DatasetCatalog
from omegaconf import DictConfig, ListConfig

__all__ = [
    "CHOICES",
    "ConfigError",
    "NUMBERS",
    "check_choices",
    "check_numbers",
    "check_config",
    "check_dataset_names",
    "check_overrides",
]


class ConfigError(ValueError):
    """One or more problems in a config or its overrides; ``.problems`` lists them."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("invalid config:\n  " + "\n  ".join(self.problems))


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _target_params(node) -> tuple[set[str], bool]:
    """Argument names of a LazyCall node's target, and whether it accepts ``**kwargs``."""
    target = node.get("_target_") if isinstance(node, (DictConfig, Mapping)) else None
    if target is None:
        return set(), False
    if isinstance(target, str):
        from detectron2.utils.registry import locate

        try:
            target = locate(target)
        except Exception:
            return set(), True  # cannot inspect: do not guess
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return set(), True
    names = {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return names, any(p.kind == p.VAR_KEYWORD for p in params)


def _check_key(cfg, key: str, override: str) -> str | None:
    node, parts = cfg, key.split(".")
    for depth, part in enumerate(parts):
        path = ".".join(parts[: depth + 1])
        if isinstance(node, (ListConfig, list, tuple)):
            if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
                parent = ".".join(parts[:depth])
                return f"unknown key {path!r}: {parent} is a list of {len(node)} items"
            node = node[int(part)]
            continue
        if not isinstance(node, (DictConfig, Mapping)):
            parent = ".".join(parts[:depth]) or "<config>"
            return f"unknown key {key!r}: {parent} is a value ({type(node).__name__}), not a dict"
        if part in node:
            node = node[part]
            continue
        params, any_kwarg = _target_params(node)
        if part in params or any_kwarg:
            return None  # an argument of the LazyCall target not set in the file: fine
        allowed = sorted({str(k) for k in node.keys() if not str(k).startswith("_")} | params)
        level = ".".join(parts[:depth]) or "top level"
        return (
            f"unknown key {path!r} (in override {override!r}); allowed at {level}: "
            f"{', '.join(allowed)}{_suggest(part, allowed)}"
        )
    return None


def check_overrides(cfg, overrides: Sequence[str]) -> list[str]:
    """Problems with ``key=value`` overrides against a loaded (not yet overridden) config."""
    problems = []
    for override in overrides:
        key, sep, _ = override.partition("=")
        key = key.strip().lstrip("+")  # hydra's "+key" would add a key on purpose
        if not sep or not key:
            problems.append(f"override {override!r} is not key=value")
        elif not override.lstrip().startswith("+"):
            problem = _check_key(cfg, key, override.strip())
            if problem:
                problems.append(problem)
    return problems


def _dataset_names(node, path: str):
    if isinstance(node, (DictConfig, Mapping)):
        for k, v in node.items():
            sub = f"{path}.{k}" if path else str(k)
            if k in ("names", "dataset_name") and v is not None:
                names = [v] if isinstance(v, str) else list(v)
                yield from ((sub, n) for n in names if isinstance(n, str))
            else:
                yield from _dataset_names(v, sub)
    elif isinstance(node, (ListConfig, list, tuple)):
        for i, v in enumerate(node):
            yield from _dataset_names(v, f"{path}.{i}")


def check_dataset_names(cfg, registered: Sequence[str] | None = None) -> list[str]:
    """Problems with ``names``/``dataset_name`` values not in the ``DatasetCatalog``."""
    registered = sorted(DatasetCatalog.list() if registered is None else registered)
    problems = []
    for path, name in _dataset_names(cfg, ""):
        if name not in registered:
            problems.append(
                f"{path}: unknown dataset {name!r}{_suggest(name, registered)} "
                f"(registered: {', '.join(registered)})"
            )
    return problems


#: keys whose value must be one of a few strings (checked after the overrides are applied)
CHOICES = {
    "train.data_check": ("header", "full", "off"),  # prnet.data.check.DATA_CHECK_MODES
    "train.nan_policy": ("stop", "skip"),  # prnet.engine.trainer.NAN_POLICIES
}


def check_choices(cfg) -> list[str]:
    """Problems with values of :data:`CHOICES` keys present in ``cfg``."""
    problems = []
    for key, allowed in CHOICES.items():
        node = cfg
        for part in key.split("."):
            node = node.get(part) if isinstance(node, (DictConfig, Mapping)) else None
        if node is not None and node not in allowed:
            problems.append(f"{key}={node!r}: expected one of {', '.join(map(repr, allowed))}")
    return problems


_INT, _NUM = (int,), (int, float)
#: numeric keys: (types, minimum, maximum, None allowed, other allowed values); checked after the
#: overrides, so ``train.max_iter=abc`` fails here and not after the model is built
NUMBERS = {
    "train.max_iter": (_INT, 1, None, True, ()),
    "train.epochs": (_NUM, 1e-9, None, False, ()),
    "train.warmup_epochs": (_NUM, 0, None, False, ()),
    "train.close_mosaic_epochs": (_NUM, 0, None, True, ()),
    "train.eval_epochs": (_NUM, 0, None, True, ()),
    "train.eval_period": (_INT, 0, None, True, ()),
    "train.images_per_epoch": (_INT, 1, None, True, ()),
    "train.checkpointer.period": (_INT, 0, None, True, ()),
    "train.checkpointer.max_to_keep": (_INT, 1, None, True, ()),
    "train.log_period": (_INT, 1, None, False, ()),
    "train.seed": (_INT, None, None, False, ()),
    "train.max_skipped_steps": (_INT, 0, None, False, ()),
    "train.clip_grad_norm": (_NUM, 1e-12, None, True, ()),
    "train.ema.period": (_INT, 1, None, True, ()),
    "train.ema.decay": (_NUM, 0, 1 - 1e-12, False, ("auto",)),
    "train.ema.tau": (_NUM, 1e-9, None, False, ("auto",)),
    "dataloader.train.total_batch_size": (_INT, 1, None, False, ()),
    "dataloader.train.num_workers": (_INT, 0, None, False, ()),
    "dataloader.test.num_workers": (_INT, 0, None, False, ()),
    "dataloader.train.mapper.image_size": (_INT, 1, None, False, ()),
    "dataloader.test.mapper.image_size": (_INT, 1, None, False, ()),
    "model.num_classes": (_INT, 1, None, True, ()),  # null: from the dataset (num_classes.py)
    "model.max_detections_per_image": (_INT, 1, None, False, ()),
    "model.backbone.num_prn_layers": (_INT, 0, 3, False, ()),  # the documented, tested range
}


def _lookup(cfg, key: str):
    node = cfg
    for part in key.split("."):
        if not isinstance(node, (DictConfig, Mapping)) or part not in node:
            return _MISSING
        node = node[part]
    return node


_MISSING = object()


def check_numbers(cfg) -> list[str]:
    """Problems with values of :data:`NUMBERS` keys present in ``cfg``: wrong type or range."""
    problems = []
    for key, (types, lo, hi, none_ok, others) in NUMBERS.items():
        value = _lookup(cfg, key)
        if value is _MISSING or (value is None and none_ok) or value in others:
            continue
        parts = ["an integer" if types == _INT else "a number"]
        if lo is not None and hi is not None:
            parts.append(f"in [{lo:g}, {hi:g}]")
        elif lo is not None:
            parts.append(f">= {lo:g}")
        parts += ["or null"] if none_ok else []
        parts += ["or " + " / ".join(map(repr, others))] if others else []
        expected = " ".join(parts)
        if isinstance(value, bool) or not isinstance(value, types):
            problems.append(f"{key}={value!r}: expected {expected}")
        elif (lo is not None and value < lo) or (hi is not None and value > hi):
            problems.append(f"{key}={value!r}: expected {expected}")
    return problems


def check_config(cfg, overrides: Sequence[str] = (), registered: Sequence[str] | None = None):
    """Check ``overrides`` on ``cfg``, then dataset names of ``cfg`` with the overrides applied.

    Raises :class:`ConfigError` listing every problem; otherwise returns an overridden copy
    (``cfg`` itself is not modified) with a null ``model.num_classes`` taken from the training
    dataset's metadata (:mod:`prnet.config.num_classes`).
    """
    from detectron2.config import LazyConfig

    problems = check_overrides(cfg, overrides)
    if problems:
        raise ConfigError(problems)
    cfg = LazyConfig.apply_overrides(copy.deepcopy(cfg), list(overrides))
    problems = check_choices(cfg) + check_numbers(cfg) + check_dataset_names(cfg, registered)
    if problems:
        raise ConfigError(problems)
    from .num_classes import resolve_num_classes

    return resolve_num_classes(cfg, registered, check_agreement=False)  # fills a null value
