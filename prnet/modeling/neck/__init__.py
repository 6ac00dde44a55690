from .fpn import ScaledFPN
from .pan import PAN
from .prn import PRN, PRNLayer

__all__ = ["PAN", "PRN", "PRNLayer", "ScaledFPN"]
