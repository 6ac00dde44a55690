"""PRNet-l on AI-TOD v2 at its native 800 px (see configs/common/data/aitod.py for why not 640)
with the paper's recipe (docs/recipe.md); scored with the AI-TOD protocol (1500 detections)."""
from ..common.data.aitod import dataloader
from ..common.models.prnet import model
from ..common.optim import SGD as optimizer
from ..common.schedule import lr_multiplier
from ..common.train import train

model.backbone.scale = "l"
model.num_classes = 8
model.max_detections_per_image = 1500  # the AI-TOD protocol's per-image budget
dataloader.train.mapper.image_size = 800
train.output_dir = "./output/AI-TOD/prnet_l_800"
