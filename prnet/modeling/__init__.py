"""PRNet modeling: timm backbones as Detectron2 backbones, the PRN neck, the dense head, the detector."""
from .backbone import CSPBackbone, TimmBackbone, make_downsample
from .head import DenseHead, DetectionLoss, TaskAlignedAssigner
from .meta_arch import PRNetDetector
from .neck import PAN, PRN, PRNLayer, ScaledFPN
from .scales import SCALES, ModelScale, get_scale

__all__ = [
    "CSPBackbone",
    "TimmBackbone",
    "make_downsample",
    "PAN",
    "PRN",
    "PRNLayer",
    "ScaledFPN",
    "DenseHead",
    "DetectionLoss",
    "TaskAlignedAssigner",
    "PRNetDetector",
    "SCALES",
    "ModelScale",
    "get_scale",
]
