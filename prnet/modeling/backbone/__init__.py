from .csp import CSPBackbone
from .stems import ESSAMP_STEM_FAMILIES, essamp_stem_family, swap_stem_for_essamp
from .timm_backbone import TimmBackbone, stride_to_name

__all__ = [
    "CSPBackbone",
    "ESSAMP_STEM_FAMILIES",
    "TimmBackbone",
    "essamp_stem_family",
    "stride_to_name",
    "swap_stem_for_essamp",
]
