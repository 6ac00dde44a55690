"""PRNet-s whose task-aligned assigner ranks candidates by plain IoU (TOOD's original) instead of
the recipe's CIoU: what the alignment metric is worth."""
from detectron2.config import LazyCall as L

from prnet.modeling import TaskAlignedAssigner

from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

model.assigner = L(TaskAlignedAssigner)(overlap="iou")
train.output_dir = "./output/ablations/iou_assigner_s"
