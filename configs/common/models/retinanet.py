"""Detectron2's RetinaNet (its RetinaNetHead, anchors, IoU matcher, focal + smooth-L1 losses, NMS)
on PRN-s: the neck of ``prnet.py`` with its P2-P4 outputs at strides 4/8/16.

Choices, for tiny aerial objects (4-32 px) and prnet's data:
* anchors: 3 scales x 3 aspect ratios per level, base size 2x the stride (8-51 px over p2-p4), as
  RetinaNet's 32 px anchors at stride 8 are 4x the stride but too large for 4-16 px objects;
  ``build_retinanet`` checks the strides against the neck's.
* head: Detectron2's 4 convs, no norm, width = the neck's stride-8 width (128 at "s", 64 at "n";
  ``ScaledFPN``'s width too), with 1x1 projections of PRN's 64/256-wide p2/p4
  (``prnet.modeling.detectors``).
* inputs: prnet's mapper gives RGB uint8, so mean 0 / std 255 gives the backbone [0, 1] as PRNet.
* inference: 500 detections per image (dense scenes, as PRNet), a low score threshold (0.01) and
  more candidates per level than Detectron2's 1000 so AP sees the whole curve; Detectron2's NMS
  at 0.5.
"""
from detectron2.config import LazyCall as L
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.modeling.matcher import Matcher

from prnet.modeling import build_retinanet

from .prnet import model as _prnet

model = L(build_retinanet)(
    backbone=_prnet.backbone,
    head_in_features=["p2", "p3", "p4"],
    head_width=None,  # None: the neck's stride-8 width
    head_num_convs=4,
    head_norm="",
    head_prior_prob=0.01,
    anchor_generator=L(DefaultAnchorGenerator)(
        sizes=[[2 * s * 2 ** (i / 3) for i in range(3)] for s in (4, 8, 16)],
        aspect_ratios=[0.5, 1.0, 2.0],
        strides=[4, 8, 16],
        offset=0.0,
    ),
    box2box_transform=L(Box2BoxTransform)(weights=[1.0, 1.0, 1.0, 1.0]),
    anchor_matcher=L(Matcher)(
        thresholds=[0.4, 0.5], labels=[0, -1, 1], allow_low_quality_matches=True
    ),
    num_classes=None,  # the training dataset's len(thing_classes) (prnet.config.num_classes)
    focal_loss_alpha=0.25,
    focal_loss_gamma=2.0,
    test_score_thresh=0.01,
    test_topk_candidates=5000,
    test_nms_thresh=0.5,
    max_detections_per_image=500,
    pixel_mean=[0.0, 0.0, 0.0],
    pixel_std=[255.0, 255.0, 255.0],
    input_format="RGB",
)
