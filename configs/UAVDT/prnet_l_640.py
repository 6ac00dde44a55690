"""PRNet-l on UAVDT-DET at 640 px (long side) with the paper's recipe (docs/recipe.md); scored
with COCO AP over car/truck/bus plus AP70 (the benchmark's IoU)."""
from ..common.data.uavdt import dataloader
from ..common.models.prnet import model
from ..common.optim import SGD as optimizer
from ..common.schedule import lr_multiplier
from ..common.train import train

model.backbone.scale = "l"
model.num_classes = 3
dataloader.train.mapper.image_size = 640
train.output_dir = "./output/UAVDT/prnet_l_640"
