"""PRNet-s on VisDrone2019-DET at native resolution (docs/native_resolution.md): the recipe of
``prnet_s_640.py`` with one change in training: 640 px crops cut from the full frames instead of
the whole ~2000x1500 frame shrunk to 640 (a 10 px car stays 10 px, not 3). Each mosaic tile is
such a crop; half of the crops are placed to hold an object. An epoch is one crop per frame.

Scale at test time must match: score the final weights with sliced prediction on 640 px tiles,

    python tools/predict.py --config-file configs/VisDrone/prnet_s_native.py \\
        --weights output/VisDrone/prnet_s_native/model_final.pth --slice --tile-size 640 \\
        --overlap 0.2 --image-size 640 --max-det 500 --eval visdrone2019_val --preset visdrone

The evaluation during training is a cheaper proxy on whole frames at a 1920 px long side (close
to native for the 1920-2000 px frames of VisDrone; the model is fully convolutional).
"""
from .prnet_s_640 import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.mapper.crop_size = "${.image_size}"  # objects at native scale (zoom jitter aside)
dataloader.train.mapper.crop_object_prob = 0.5
dataloader.test.mapper.image_size = 1920
train.output_dir = "./output/VisDrone/prnet_s_native"
