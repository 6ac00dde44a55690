"""Datasets, converters, augmentation and the dataset mapper. Importing it registers the datasets."""
from .check import DataCheckError, DataCheckReport, check_dataset_dicts, check_training_data
from .datasets import register_all_aerial, register_coco, register_coco_with_ignore, register_yolo
from .mapper import YOLODatasetMapper, build_yolo_train_loader
from .synthetic import SYNTHETIC_CLASSES, generate_synthetic_aerial, register_synthetic_aerial
from .tiling import register_sliced_dataset, slice_dataset

__all__ = [
    "DataCheckError",
    "DataCheckReport",
    "check_dataset_dicts",
    "check_training_data",
    "register_all_aerial",
    "register_coco",
    "register_coco_with_ignore",
    "register_yolo",
    "YOLODatasetMapper",
    "build_yolo_train_loader",
    "SYNTHETIC_CLASSES",
    "generate_synthetic_aerial",
    "register_synthetic_aerial",
]
__all__ += ["register_sliced_dataset", "slice_dataset"]  # native-resolution tiles
