"""Reading other code bases' checkpoints: Ultralytics ``.pt`` files (YOLO11, the PRNet authors'
released weights) safely, and their conversion to prnet's modules."""

from .from_ultralytics import (
    ConversionReport,
    SourceArchitecture,
    describe_source,
    layer_map,
    ultralytics_to_prnet,
)
from .ultralytics import (
    UltralyticsCheckpoint,
    UnsafeCheckpointError,
    is_ultralytics_checkpoint,
    read_ultralytics_checkpoint,
)

__all__ = [
    "ConversionReport",
    "SourceArchitecture",
    "UltralyticsCheckpoint",
    "UnsafeCheckpointError",
    "is_ultralytics_checkpoint",
    "describe_source",
    "layer_map",
    "read_ultralytics_checkpoint",
    "ultralytics_to_prnet",
]
