"""PRNet-s trained and tested at 256 px instead of the synthetic configs' 320 (input-size ablation:
small objects shrink with the image, the cost falls with its area)."""
from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.mapper.image_size = 256  # the test size follows (configs/common/data/yolo.py)
train.output_dir = "./output/ablations/input_size_256_s"
