from .prnet import PRNetDetector, select_detections

__all__ = ["PRNetDetector", "select_detections"]
