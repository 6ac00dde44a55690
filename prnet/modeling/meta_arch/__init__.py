from .prnet import PRNetDetector

__all__ = ["PRNetDetector"]
