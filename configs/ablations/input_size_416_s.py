"""PRNet-s trained and tested at 416 px instead of the synthetic configs' 320 (input-size ablation:
upsampling spreads tiny objects over more stride-4 cells, at 1.7x the cost)."""
from ..PRNet.prnet_s import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.mapper.image_size = 416  # the test size follows (configs/common/data/yolo.py)
train.output_dir = "./output/ablations/input_size_416_s"
