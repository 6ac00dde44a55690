"""PRNet-x: the paper's model at scale "x" with the paper's recipe (docs/paper.md,
docs/recipe.md) on the built-in synthetic aerial data."""
from ..common.data.synthetic import dataloader
from ..common.models.prnet import model
from ..common.optim import SGD as optimizer
from ..common.schedule import lr_multiplier
from ..common.train import train

model.backbone.scale = "x"
model.num_classes = 7  # prnet.data.synthetic.SYNTHETIC_CLASSES
train.output_dir = "./output/PRNet/prnet_x"
