"""The one way to load a LazyConfig: the file, ``key=value`` overrides checked before they apply."""

from __future__ import annotations

import os
from collections.abc import Sequence

from detectron2.config import LazyConfig

from .check import ConfigError, check_config

__all__ = ["load_config"]


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()):
    """``LazyConfig.load(path)`` with ``overrides`` applied after :func:`check_config`: a missing
    file, a misspelled key, an unknown dataset name or a bad choice raises :class:`ConfigError`
    naming it (with the allowed keys and close matches) before anything is built."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError([f"config file {path!r} does not exist"])
    return check_config(LazyConfig.load(path), list(overrides))
