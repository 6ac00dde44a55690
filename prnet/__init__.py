"""prnet: real-time small-object detection in aerial imagery (PRNet) on Detectron2 + timm.

Importing prnet registers the ``prnet_csp_*`` timm models, the ``PRNetDetector`` meta architecture,
the ``build_prnet_backbone`` backbone and the built-in datasets with their registries.
"""
import warnings

# Detectron2 scripts helpers at import time and export uses torch.jit; torch warns on every call.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+.*deprecated", category=FutureWarning)

from . import data  # noqa: F401  (registers the built-in datasets)
from . import modeling  # noqa: F401  (registers timm models and Detectron2 meta architecture)
from .config import add_prnet_config, build_prnet_backbone  # noqa: F401
from .modeling.build import build_model  # noqa: F401
from .inference.detector import Detector  # noqa: F401

__version__ = "0.1.0"
__all__ = ["Detector", "add_prnet_config", "build_model", "build_prnet_backbone", "modeling", "__version__"]
