"""Detectron2's RetinaNet on Detectron2's FPN (the FPN ablation's neck: same CSP backbone, P2-P4,
width 128 at "s"), the PRNet-s recipe and data: the baseline for ``retinanet_prn_s.py``.
The head is the same (width 128); only the neck differs."""
from ..ablations.fpn_s import model as _fpn
from ..common.models.retinanet import model
from ..PRNet.prnet_s import dataloader, lr_multiplier, optimizer, train

model.backbone = _fpn.backbone
model.num_classes = 7  # prnet.data.synthetic.SYNTHETIC_CLASSES
# Detectron2 trains RetinaNet/FCOS (losses normalised by the number of foreground anchors or
# points) with SGD at lr 0.01 for batch 16; batch_mean_lr multiplies base_lr by the batch
optimizer.lr.base_lr = 0.01 / 16
train.output_dir = "./output/detectors/retinanet_fpn_s"
