"""PRNetDetector end to end on tiny inputs: batches, odd sizes, empty images, backbones."""
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances

import prnet
from prnet.modeling import PRN, PRNetDetector, TimmBackbone


def tiny_detector(backbone="prnet_csp_n", num_classes=3, **kwargs):
    torch.manual_seed(0)
    return PRNetDetector(
        backbone=PRN(TimmBackbone(backbone), scale="n"), num_classes=num_classes, **kwargs
    )


def sample(h, w, boxes=(), classes=()):
    inst = Instances((h, w))
    inst.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    inst.gt_classes = torch.tensor(classes, dtype=torch.int64)
    return {"image": torch.randint(0, 256, (3, h, w), dtype=torch.uint8), "instances": inst}


@pytest.mark.parametrize("backbone", ["prnet_csp_n", "test_resnet", "convnext_atto"])
@pytest.mark.parametrize("size", [(63, 97), (100, 45)])
def test_feature_shapes_match_output_shape_after_padding(backbone, size):
    model = tiny_detector(backbone).eval()
    images = model.preprocess_image([{"image": torch.zeros(3, *size, dtype=torch.uint8)}])
    padded = images.tensor.shape[-2:]
    assert all(s % 32 == 0 for s in padded) and all(p >= s for p, s in zip(padded, size))
    features = model.backbone(images.tensor)
    for name, spec in model.backbone.output_shape().items():
        assert features[name].shape[1:] == (spec.channels, padded[0] // spec.stride, padded[1] // spec.stride)
    bottom_up = model.backbone.bottom_up
    raw = bottom_up(images.tensor)
    for name, spec in bottom_up.output_shape().items():
        assert raw[name].shape[1:] == (spec.channels, padded[0] // spec.stride, padded[1] // spec.stride)


def test_training_batch_with_different_sizes_and_an_empty_image():
    model = tiny_detector().train()
    batch = [
        sample(70, 90, [[10, 10, 20, 22], [40, 30, 52, 40]], [0, 2]),
        sample(64, 50),  # no objects
        sample(33, 65, [[3, 3, 9, 9]], [1]),
    ]
    losses = model(batch)
    assert set(losses) == {"loss_prnet_cls", "loss_prnet_box", "loss_prnet_dfl"}
    assert all(torch.isfinite(v) and v >= 0 for v in losses.values())
    sum(losses.values()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_training_batch_of_only_empty_images():
    model = tiny_detector().train()
    losses = model([sample(64, 64), sample(32, 96)])
    assert losses["loss_prnet_box"].item() == 0 and losses["loss_prnet_cls"].item() > 0
    sum(losses.values()).backward()


def test_inference_outputs_in_original_image_coordinates():
    model = tiny_detector(test_score_thresh=0.0, max_detections_per_image=7).eval()
    inputs = [
        {"image": torch.randint(0, 256, (3, 50, 70), dtype=torch.uint8), "height": 100, "width": 140},
        {"image": torch.randint(0, 256, (3, 33, 33), dtype=torch.uint8)},
    ]
    with torch.no_grad():
        outputs = model(inputs)
    assert len(outputs) == 2
    first, second = outputs[0]["instances"], outputs[1]["instances"]
    assert first.image_size == (100, 140) and second.image_size == (33, 33)
    for inst, (h, w) in ((first, (100, 140)), (second, (33, 33))):
        assert len(inst) == 7  # capped by max_detections_per_image
        assert set(inst.get_fields()) == {"pred_boxes", "scores", "pred_classes"}
        b = inst.pred_boxes.tensor
        assert (b[:, 0] >= 0).all() and (b[:, 2] <= w).all() and (b[:, 3] <= h).all()
        assert inst.pred_classes.max() < 3 and (inst.scores[:-1] >= inst.scores[1:]).all()


def test_inference_respects_score_threshold_and_class_aware_nms():
    model = tiny_detector(test_score_thresh=0.999).eval()
    with torch.no_grad():
        out = model([{"image": torch.zeros(3, 64, 64, dtype=torch.uint8)}])[0]["instances"]
    assert len(out) == 0  # untrained class logits sit near the prior (about 1e-4)

    model = tiny_detector(test_score_thresh=0.0, test_nms_thresh=0.5).eval()
    boxes = torch.tensor([[[0.0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]]])
    scores = torch.tensor([[[0.9, 0.8, 0.0], [0.7, 0.1, 0.0], [0.2, 0.6, 0.0]]])
    result = model.inference_single_image(boxes[0], scores[0], (20, 20))
    # Same box three times: NMS keeps the best of each class only.
    assert sorted(zip(result.pred_classes.tolist(), result.scores.tolist())) == [
        (0, pytest.approx(0.9)),
        (1, pytest.approx(0.8)),
    ]


def test_registered_meta_architecture_builds_from_yacs_config():
    cfg = prnet.add_prnet_config(get_cfg())
    cfg.MODEL.META_ARCHITECTURE = "PRNetDetector"
    cfg.MODEL.BACKBONE.NAME = "build_prnet_backbone"
    cfg.MODEL.PRNET.SCALE = "n"
    cfg.MODEL.PRNET.NUM_CLASSES = 4
    cfg.MODEL.DEVICE = "cpu"
    model = build_model(cfg)
    assert isinstance(model, PRNetDetector) and model.head.num_classes == 4
    assert model.max_detections_per_image == 500
