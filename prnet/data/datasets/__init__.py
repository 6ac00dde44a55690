"""Dataset registration: real aerial datasets (lazy, under $DETECTRON2_DATASETS) and the synthetic set."""
from . import builtin  # noqa: F401  (registers every built-in name)
from .builtin import AERIAL_SPLITS, aerial_split_paths, register_all_aerial
from .coco import load_coco_json_with_ignore, register_coco_with_ignore
from .custom import register_coco
from .yolo import register_yolo

__all__ = [
    "AERIAL_SPLITS",
    "aerial_split_paths",
    "register_all_aerial",
    "load_coco_json_with_ignore",
    "register_coco_with_ignore",
    "register_coco",
    "register_yolo",
]
