"""UAVDT-DET: train on the train sequences, evaluate on test (COCO AP over car/truck/bus, ignore
regions, plus AP70). Prepare with ``datasets/prepare_uavdt.py``."""
from .yolo import dataloader

dataloader.train.dataset.names = "uavdt_train"
dataloader.test.dataset.names = "uavdt_test"
dataloader.evaluator.preset = "uavdt"
