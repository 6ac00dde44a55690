"""PRNet modeling: timm backbones as Detectron2 backbones, the PRN neck, the dense head, the detector,
and Detectron2's RetinaNet/FCOS on those necks."""
from .backbone import CSPBackbone, TimmBackbone
from .detectors import ProjectedHead, build_fcos, build_retinanet, shared_head_width
from .head import DenseHead, DetectionLoss, TaskAlignedAssigner
from .meta_arch import PRNetDetector
from .neck import PAN, PRN, PRNLayer, ScaledFPN
from .scales import SCALES, ModelScale, get_scale

__all__ = [
    "CSPBackbone",
    "TimmBackbone",
    "PAN",
    "PRN",
    "PRNLayer",
    "ScaledFPN",
    "DenseHead",
    "DetectionLoss",
    "TaskAlignedAssigner",
    "PRNetDetector",
    "ProjectedHead",
    "build_fcos",
    "build_retinanet",
    "shared_head_width",
    "SCALES",
    "ModelScale",
    "get_scale",
]
