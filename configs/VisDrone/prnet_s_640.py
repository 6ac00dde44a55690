"""PRNet-s on VisDrone2019-DET at 640 px with the paper's recipe (docs/recipe.md): 350 epochs,
batch 8, SGD, EMA, mosaic off for the last 10 epochs; scored with the VisDrone protocol."""
from ..common.data.visdrone import dataloader
from ..common.models.prnet import model
from ..common.optim import SGD as optimizer
from ..common.schedule import lr_multiplier
from ..common.train import train

model.backbone.scale = "s"
model.num_classes = 10
model.max_detections_per_image = 500  # the VisDrone protocol's per-image budget
dataloader.train.mapper.image_size = 640
train.output_dir = "./output/VisDrone/prnet_s_640"
