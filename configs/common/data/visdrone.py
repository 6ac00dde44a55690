"""VisDrone2019-DET: train on train, evaluate on val with the official protocol (ignore regions,
500 detections per image). Prepare with ``datasets/prepare_visdrone.py``."""
from .yolo import dataloader

dataloader.train.dataset.names = "visdrone2019_train"
dataloader.test.dataset.names = "visdrone2019_val"
dataloader.evaluator.preset = "visdrone"
