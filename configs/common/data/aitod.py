"""AI-TOD v2: train on trainval, evaluate on test with the AI-TOD protocol (1500 detections,
tiny-object size bins). v1: replace "v2" by "v1". Prepare with ``datasets/prepare_aitod.py``.
Images are 800 x 800; the AI-TOD experiments train and test at the native 800 px, since
downscaling to 640 would shrink objects of ~12.8 px mean size further."""
from .yolo import dataloader

dataloader.train.dataset.names = "aitod_v2_trainval"
dataloader.test.dataset.names = "aitod_v2_test"
dataloader.evaluator.preset = "aitod"
