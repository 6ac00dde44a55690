"""Detectron2's RetinaNet on PRN-s (CSP backbone with ESSamp stem, P2-P4), the PRNet-s recipe and
data: does PRN help a detector it was not designed for ?
Baseline: ``retinanet_fpn_s.py``."""
from ..common.models.retinanet import model
from ..PRNet.prnet_s import dataloader, lr_multiplier, optimizer, train

model.backbone.scale = "s"
model.num_classes = 7  # prnet.data.synthetic.SYNTHETIC_CLASSES
# Detectron2 trains RetinaNet/FCOS (losses normalised by the number of foreground anchors or
# points) with SGD at lr 0.01 for batch 16; batch_mean_lr multiplies base_lr by the batch
optimizer.lr.base_lr = 0.01 / 16
train.output_dir = "./output/detectors/retinanet_prn_s"
