"""Utilities shared by tools and tests: where the configs live (``paths``), tiny datasets and
overrides for fast tests (``testing``)."""

__all__: list[str] = []
