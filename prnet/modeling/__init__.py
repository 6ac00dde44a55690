"""PRNet modeling: timm backbones as Detectron2 backbones, the PRN neck, the dense head, the detector."""
from .backbone import CSPBackbone, TimmBackbone, make_downsample
from .head import DenseHead, DetectionLoss, TaskAlignedAssigner
from .meta_arch import PRNetDetector
from .neck import PRN, PRNLayer
from .scales import SCALES, ModelScale, get_scale

__all__ = [
    "CSPBackbone",
    "TimmBackbone",
    "make_downsample",
    "PRN",
    "PRNLayer",
    "DenseHead",
    "DetectionLoss",
    "TaskAlignedAssigner",
    "PRNetDetector",
    "SCALES",
    "ModelScale",
    "get_scale",
]
