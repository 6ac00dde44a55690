"""Configuration: the one LazyConfig loader (with checked overrides), the override and
dataset-name checks, and Detectron2 yacs-config support."""

from .check import (
    CHOICES,
    NUMBERS,
    ConfigError,
    check_choices,
    check_config,
    check_dataset_names,
    check_numbers,
    check_overrides,
)
from .load import load_config
from .num_classes import resolve_num_classes
from .yacs import add_prnet_config, build_prnet_backbone

__all__ = [
    "CHOICES",
    "NUMBERS",
    "ConfigError",
    "add_prnet_config",
    "build_prnet_backbone",
    "check_choices",
    "check_config",
    "check_dataset_names",
    "check_numbers",
    "check_overrides",
    "load_config",
    "resolve_num_classes",
]
