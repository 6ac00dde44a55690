from .assigner import Assignment, TaskAlignedAssigner
from .dense_head import DenseHead, dfl_to_distances, distances_to_boxes, make_points
from .loss import DetectionLoss, distribution_focal_loss

__all__ = [
    "Assignment",
    "TaskAlignedAssigner",
    "DenseHead",
    "dfl_to_distances",
    "distances_to_boxes",
    "make_points",
    "DetectionLoss",
    "distribution_focal_loss",
]
