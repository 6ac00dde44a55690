"""Detectron2's FCOS (its FCOSHead with GroupNorm, centre sampling, focal + GIoU + centerness
losses, NMS) on PRN-s: the neck of ``prnet.py`` with its P2-P4 outputs at strides 4/8/16.

Choices, for tiny aerial objects (4-32 px) and prnet's data:
* points: FCOS puts one point per location of ``head_in_features`` at the neck's strides and assigns
  objects to levels by size ranges it derives from those strides (p2: up to 32 px from a point).
* head: Detectron2's 4 convs with GN, width = the neck's stride-8 width (128 at "s", 64 at "n";
  ``ScaledFPN``'s width too), with 1x1 projections of PRN's 64/256-wide p2/p4
  (``prnet.modeling.detectors``).
* inputs: prnet's mapper gives RGB uint8, so mean 0 / std 255 gives the backbone [0, 1] as PRNet.
* inference: 500 detections per image (as PRNet); score threshold 0.05 on sqrt(cls x centerness)
  (Detectron2's 0.2 is tuned for 100 COCO detections and would cut the AP curve short); more
  candidates per level than Detectron2's 1000; Detectron2's FCOS NMS at 0.6.
"""
from detectron2.config import LazyCall as L

from prnet.modeling import build_fcos

from .prnet import model as _prnet

model = L(build_fcos)(
    backbone=_prnet.backbone,
    head_in_features=["p2", "p3", "p4"],
    head_width=None,  # None: the neck's stride-8 width
    head_num_convs=4,
    head_norm="GN",
    head_prior_prob=0.01,
    num_classes=None,  # the training dataset's len(thing_classes) (prnet.config.num_classes)
    center_sampling_radius=1.5,
    focal_loss_alpha=0.25,
    focal_loss_gamma=2.0,
    test_score_thresh=0.05,
    test_topk_candidates=5000,
    test_nms_thresh=0.6,
    max_detections_per_image=500,
    pixel_mean=[0.0, 0.0, 0.0],
    pixel_std=[255.0, 255.0, 255.0],
)
