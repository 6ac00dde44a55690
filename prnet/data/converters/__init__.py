"""Converters from the official aerial-dataset formats to COCO json with ignore information.

Each ``convert_*`` returns ``(coco_dict, ConversionReport)``; write both with
:func:`write_coco_json`. The ``datasets/prepare_*.py`` scripts drive them and put the json files
where :mod:`prnet.data.datasets.builtin` registers them.
"""

from .aitod import (
    AITOD_CLASSES,
    AITOD_SOURCE_JSON,
    AITOD_SPLITS,
    canonical_aitod_class,
    convert_aitod,
    find_aitod_source_json,
)
from .common import (
    ConversionError,
    ConversionReport,
    clip_xywh,
    image_size,
    iter_numeric_rows,
    save_converted,
    write_coco_json,
)
from .uavdt import (
    UAVDT_CLASSES,
    UAVDT_FRAME_SIZE,
    UAVDT_TEST_SEQUENCES,
    convert_uavdt,
    discover_uavdt_sequences,
    read_sequence_list,
    split_uavdt_sequences,
)
from .visdrone import VISDRONE_CLASSES, VISDRONE_SPLITS, convert_visdrone, convert_visdrone_split

__all__ = [
    "AITOD_CLASSES",
    "AITOD_SOURCE_JSON",
    "AITOD_SPLITS",
    "ConversionError",
    "ConversionReport",
    "UAVDT_CLASSES",
    "UAVDT_FRAME_SIZE",
    "UAVDT_TEST_SEQUENCES",
    "VISDRONE_CLASSES",
    "VISDRONE_SPLITS",
    "canonical_aitod_class",
    "clip_xywh",
    "convert_aitod",
    "convert_uavdt",
    "convert_visdrone",
    "convert_visdrone_split",
    "discover_uavdt_sequences",
    "find_aitod_source_json",
    "image_size",
    "iter_numeric_rows",
    "read_sequence_list",
    "split_uavdt_sequences",
    "write_coco_json",
    "save_converted",
]
