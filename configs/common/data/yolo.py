"""Data pipeline of the recipe (docs/recipe.md): mosaic + YOLO augmentation for training, long-
side resize for testing, ``AerialEvaluator`` for scoring. Dataset configs set the names, image
size and protocol preset; ``dataloader.train.mapper.image_size`` is the one image size."""
from detectron2.config import LazyCall as L
from detectron2.data import build_detection_test_loader, get_detection_dataset_dicts
from omegaconf import OmegaConf

from prnet.data.mapper import YOLODatasetMapper, build_yolo_train_loader
from prnet.evaluation import AerialEvaluator

dataloader = OmegaConf.create()

dataloader.train = L(build_yolo_train_loader)(
    dataset=L(get_detection_dataset_dicts)(names="???", filter_empty=False),
    mapper=L(YOLODatasetMapper)(
        is_train=True,
        image_size=640,
        mosaic_prob=1.0,
        scale=0.5,
        translate=0.1,
        hsv=(0.015, 0.7, 0.4),
        flip_prob=0.5,
        seed="${....train.seed}",
    ),
    total_batch_size=8,
    num_workers=4,
)

dataloader.test = L(build_detection_test_loader)(
    dataset=L(get_detection_dataset_dicts)(names="???", filter_empty=False),
    mapper=L(YOLODatasetMapper)(is_train=False, image_size="${...train.mapper.image_size}"),
    num_workers=4,
)

dataloader.evaluator = L(AerialEvaluator)(
    dataset_name="${..test.dataset.names}",
    preset="coco",
    output_dir="${...train.output_dir}/inference",  # metrics.json, coco_instances_results.json
)
