"""Reading weights files, the one way for every tool: prnet/Detectron2 checkpoints (EMA preferred),
plain state dicts, and Ultralytics ``.pt`` files (YOLO11, the PRNet authors' released weights)
read safely and converted to prnet's modules."""

from .from_ultralytics import (
    ConversionReport,
    SourceArchitecture,
    describe_source,
    layer_map,
    ultralytics_to_prnet,
)
from .metadata import (
    METADATA_KEY,
    build_model_from_metadata,
    config_metadata,
    model_metadata,
    read_checkpoint_metadata,
)
from .weights import (
    EMA_KEYS,
    CheckpointReadError,
    extract_state_dict,
    load_weights,
    read_checkpoint,
)
from .ultralytics import (
    UltralyticsCheckpoint,
    UnsafeCheckpointError,
    is_ultralytics_checkpoint,
    read_ultralytics_checkpoint,
)

__all__ = [
    "EMA_KEYS",
    "METADATA_KEY",
    "build_model_from_metadata",
    "config_metadata",
    "model_metadata",
    "read_checkpoint_metadata",
    "CheckpointReadError",
    "ConversionReport",
    "SourceArchitecture",
    "UltralyticsCheckpoint",
    "UnsafeCheckpointError",
    "is_ultralytics_checkpoint",
    "describe_source",
    "extract_state_dict",
    "load_weights",
    "read_checkpoint",
    "layer_map",
    "read_ultralytics_checkpoint",
    "ultralytics_to_prnet",
]
