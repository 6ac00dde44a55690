"""Where the repository's configs live (prnet is used from a checkout: ``pip install -e .``)."""

from __future__ import annotations

import os

__all__ = ["config_dir", "repo_root"]


def repo_root() -> str:
    """The checkout holding ``prnet/``, ``configs/`` and ``tools/``."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def config_dir() -> str:
    """``<checkout>/configs``."""
    return os.path.join(repo_root(), "configs")
