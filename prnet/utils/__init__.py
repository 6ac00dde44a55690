"""Utilities shared by tools and tests (``prnet.utils.testing``: tiny datasets and tool loading)."""

__all__: list[str] = []
