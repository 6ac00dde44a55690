"""Detectron2's RetinaNet and FCOS on PRN and FPN (configs/detectors): they build from configs at
any scale, train with Detectron2's losses, predict Instances and use the neck's strides 4/8/16."""
import os

import pytest
import torch
from detectron2.config import LazyConfig, instantiate
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.meta_arch import FCOS, RetinaNet
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

from prnet.analysis import count_flops, count_parameters
from prnet.modeling import PRN, ProjectedHead, ScaledFPN, build_retinanet
from prnet.utils.testing import repo_root

CONFIGS = ["retinanet_prn_s", "fcos_prn_s", "retinanet_fpn_s", "fcos_fpn_s"]
LOSSES = {
    RetinaNet: {"loss_cls", "loss_box_reg"},
    FCOS: {"loss_fcos_cls", "loss_fcos_loc", "loss_fcos_ctr"},
}


def load(name, *overrides):
    cfg = LazyConfig.load(os.path.join(repo_root(), "configs", "detectors", f"{name}.py"))
    return LazyConfig.apply_overrides(cfg, list(overrides))


def build(name, scale="n"):
    torch.manual_seed(0)
    return instantiate(load(name, f"model.backbone.scale={scale}").model)


def sample(h, w, boxes=(), classes=()):
    inst = Instances((h, w))
    inst.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    inst.gt_classes = torch.tensor(classes, dtype=torch.int64)
    return {"image": torch.randint(0, 256, (3, h, w), dtype=torch.uint8), "instances": inst}


def head_convs(model):
    head = model.head.head if isinstance(model.head, ProjectedHead) else model.head
    return [m for m in head.cls_subnet if isinstance(m, torch.nn.Conv2d)]


@pytest.mark.parametrize("name", CONFIGS)
def test_builds_detectron2_detector_on_the_neck(name):
    cfg = load(name)
    assert set(cfg.keys()) == {"model", "dataloader", "optimizer", "lr_multiplier", "train"}
    assert cfg.model.num_classes == 7 and cfg.model.max_detections_per_image == 500
    assert cfg.model.test_score_thresh <= 0.05
    model = build(name)
    assert isinstance(model, RetinaNet if name.startswith("retinanet") else FCOS)
    assert isinstance(model.backbone, PRN if "_prn_" in name else ScaledFPN)
    assert model.head_in_features == ["p2", "p3", "p4"]
    shapes = model.backbone.output_shape()
    assert [shapes[f].stride for f in model.head_in_features] == [4, 8, 16]
    # inputs as PRNetDetector: RGB uint8 -> [0, 1]
    assert model.pixel_mean.flatten().tolist() == [0.0, 0.0, 0.0]
    assert model.pixel_std.flatten().tolist() == [255.0, 255.0, 255.0]
    # Detectron2's 4 head convs, as wide as the neck's stride-8 level; PRN's other widths projected
    convs = head_convs(model)
    assert len(convs) == 4 and all(c.out_channels == shapes["p3"].channels for c in convs)
    widths = {shapes[f].channels for f in model.head_in_features}
    assert isinstance(model.head, ProjectedHead) == (len(widths) > 1)
    assert ("_prn_" in name) == (len(widths) > 1)  # PRN widens with stride, FPN does not


@pytest.mark.parametrize("name", ["retinanet_prn_s", "fcos_prn_s"])
def test_head_width_follows_the_scale(name):
    widths = {}
    for scale in "ns":
        model = build(name, scale)
        assert model.backbone.output_shape()["p3"].channels == {"n": 64, "s": 128}[scale]
        widths[scale] = {c.out_channels for c in head_convs(model)}
    assert widths == {"n": {64}, "s": {128}}


def test_retinanet_anchors_are_small_and_on_the_neck_strides():
    model = build("retinanet_prn_s")
    gen = model.anchor_generator
    assert list(gen.strides) == [4, 8, 16]
    assert gen.num_cell_anchors == [9, 9, 9]
    # base size 2x the stride, 3 octave scales: tiny-object anchors from 8 to ~51 px
    sizes = [sorted({round(float((a[2] - a[0]) * (a[3] - a[1])) ** 0.5, 1) for a in cell})
             for cell in gen.cell_anchors]
    assert sizes == [[8.0, 10.1, 12.7], [16.0, 20.2, 25.4], [32.0, 40.3, 50.8]]
    # one set of anchors per location of each level of a 64x96 image
    feats = model.backbone(torch.zeros(1, 3, 64, 96))
    anchors = gen([feats[f] for f in model.head_in_features])
    assert [len(a) for a in anchors] == [9 * (64 // s) * (96 // s) for s in (4, 8, 16)]


def test_fcos_points_are_on_the_neck_strides():
    model = build("fcos_prn_s")
    assert list(model.anchor_generator.strides) == [4, 8, 16]
    assert model.anchor_generator.num_cell_anchors == [1, 1, 1]


def test_retinanet_rejects_anchors_off_the_neck_strides():
    cfg = load("retinanet_prn_s", "model.backbone.scale=n")
    cfg.model.anchor_generator = DefaultAnchorGenerator(
        sizes=[[32], [64], [128]], aspect_ratios=[1.0], strides=[8, 16, 32]
    )
    with pytest.raises(ValueError, match="strides"):
        instantiate(cfg.model)
    with pytest.raises(ValueError, match="strides"):
        build_retinanet(
            backbone=instantiate(cfg.model.backbone), num_classes=3,
            anchor_generator=cfg.model.anchor_generator,
        )


@pytest.mark.parametrize("name", CONFIGS)
def test_one_training_step(name):
    model = build(name).train()
    batch = [
        sample(64, 64, [[4, 6, 14, 12], [30, 30, 62, 50]], [0, 6]),
        sample(64, 64),  # an image without objects
    ]
    with EventStorage(0):  # RetinaNet and FCOS log to Detectron2's storage when training
        losses = model(batch)
    assert set(losses) == LOSSES[type(model)]
    total = sum(losses.values())
    assert torch.isfinite(total) and total > 0
    total.backward()
    for part in (model.backbone, model.head):
        grads = [p.grad for p in part.parameters() if p.requires_grad]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", CONFIGS)
def test_inference_returns_instances(name):
    model = build(name).eval()
    model.test_score_thresh = 0.0  # untrained: keep every candidate so the budget is reached
    with torch.no_grad():
        outputs = model([{"image": torch.randint(0, 256, (3, 63, 97), dtype=torch.uint8)}])
    inst = outputs[0]["instances"]
    assert inst.image_size == (63, 97)
    assert set(inst.get_fields()) == {"pred_boxes", "scores", "pred_classes"}
    assert 0 < len(inst) <= 500
    assert inst.pred_classes.min() >= 0 and inst.pred_classes.max() < 7
    boxes = inst.pred_boxes.tensor
    assert (boxes[:, 0::2] >= 0).all() and (boxes[:, 0::2] <= 97).all()
    assert (boxes[:, 1::2] >= 0).all() and (boxes[:, 1::2] <= 63).all()


def test_analysis_counts_the_projected_head():
    model = build("retinanet_prn_s")
    flops = count_flops(model, 64, 64)["conv"]
    params = count_parameters(model)["total"]
    backbone = count_parameters(model.backbone)["total"]
    head = count_parameters(model.head.head)["total"]
    proj = sum(p.numel() for p in model.head.proj.parameters())
    assert proj == (32 + 1) * 64 + (128 + 1) * 64  # p2 and p4 projected to p3's 64 channels at "n"
    assert params == backbone + head + proj
    assert flops > 0


def test_export_refuses_other_meta_architectures(tmp_path):
    """prnet's export graph holds PRNet's head and decoding: other detectors get a clear error."""
    from prnet.export import export_model

    with pytest.raises(TypeError, match="PRNetDetector models only.*got RetinaNet"):
        export_model(build("retinanet_prn_s").eval(), "onnx", str(tmp_path / "m.onnx"))
