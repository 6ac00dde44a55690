from .csp import CSPBackbone, make_downsample
from .timm_backbone import TimmBackbone, stride_to_name

__all__ = ["CSPBackbone", "TimmBackbone", "make_downsample", "stride_to_name"]
