"""Detectron2's FCOS on PRN-s (CSP backbone with ESSamp stem, P2-P4), the PRNet-s recipe and
data: does PRN help a detector it was not designed for ?
Baseline: ``fcos_fpn_s.py``."""
from ..common.models.fcos import model
from ..PRNet.prnet_s import dataloader, lr_multiplier, optimizer, train

model.backbone.scale = "s"
model.num_classes = 7  # prnet.data.synthetic.SYNTHETIC_CLASSES
# Detectron2 trains RetinaNet/FCOS (losses normalised by the number of foreground anchors or
# points) with SGD at lr 0.01 for batch 16; batch_mean_lr multiplies base_lr by the batch
optimizer.lr.base_lr = 0.01 / 16
train.output_dir = "./output/detectors/fcos_prn_s"
