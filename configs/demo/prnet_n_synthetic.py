"""The ``make demo`` experiment: PRNet-n trained from scratch on the built-in synthetic aerial data
on a 2-core CPU in about 9 minutes (``tools/demo.py``), scored with the AI-TOD size bins.

Departures from the paper's recipe (PRNET.md Sec. 4), all for the CPU time budget: a few epochs
instead of 350, AdamW (converges in far fewer steps than SGD from scratch), a short EMA ramp,
no evaluation during training, float32. The data are the generator's, unchanged.
"""
from ..common.data.synthetic import dataloader
from ..common.models.prnet import model
from ..common.optim import AdamW as optimizer
from ..common.schedule import lr_multiplier
from ..common.train import train

model.backbone.scale = "n"
model.num_classes = 7  # prnet.data.synthetic.SYNTHETIC_CLASSES
model.max_detections_per_image = 300

# train on 128 px scenes (prnet.engine.DEMO_SPLITS), test on the standard 320 px val split
dataloader.train.dataset.names = "synthetic_aerial_demo_train"
dataloader.train.mapper.image_size = 128
dataloader.train.mapper.scale = 0.25
dataloader.test.mapper.image_size = 320
dataloader.train.total_batch_size = 8
dataloader.train.num_workers = 2
dataloader.test.num_workers = 2

optimizer.lr = 2e-3
optimizer.weight_decay = 0.05

train.epochs = 11
train.warmup_epochs = 1
train.close_mosaic_epochs = 2
train.eval_epochs = 0  # evaluate once, after training
train.ema.tau = 50  # short ramp: the run has a few hundred updates
train.ema.period = 1
train.amp.enabled = False
train.output_dir = "./output/demo/prnet_n_synthetic"
