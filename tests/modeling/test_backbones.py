"""The CSP backbone as a timm model, and TimmBackbone over several timm families."""
import pytest
import timm
import torch

from prnet.modeling import TimmBackbone  # importing prnet.modeling registers prnet_csp_*


def n_params(m) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name", [f"prnet_csp_{s}" for s in "nsmlx"])
def test_csp_is_a_timm_model_with_features_only(name):
    model = timm.create_model(name, features_only=True)
    assert model.feature_info.reduction() == [4, 8, 16, 32]
    if name.endswith("_n"):
        feats = model(torch.randn(1, 3, 64, 96))
        assert [f.shape[-2:] for f in feats] == [(16, 24), (8, 12), (4, 6), (2, 3)]
        assert [f.shape[1] for f in feats] == model.feature_info.channels()


def test_csp_backbone_reference_sizes():
    # docs/paper.md layer table, layers 0-10 (unfused, BN counted).
    assert n_params(timm.create_model("prnet_csp_s", features_only=True)) == 5_499_944
    assert n_params(timm.create_model("prnet_csp_l", features_only=True)) == 12_831_112


def test_csp_stems():
    essamp = timm.create_model("prnet_csp_s")
    conv = timm.create_model("prnet_csp_s", stem="conv")
    assert type(essamp.stem).__name__ == "ESSamp" and type(conv.stem).__name__ == "Conv"
    # ESSamp stems keep the reference's unscaled 64/128 widths; conv stems follow the width (YOLO11).
    assert essamp.feature_info[0]["num_chs"] == 64 and conv.feature_info[0]["num_chs"] == 32
    scaled = timm.create_model("prnet_csp_s", scale_stem=True)
    assert scaled.feature_info[0]["num_chs"] == 32
    assert essamp(torch.randn(1, 3, 64, 64)).shape == (1, 1000)  # a complete timm classifier too


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("prnet_csp_n", {}),
        ("test_resnet", {}),  # stride-2 first level
        ("convnext_atto", {}),  # stride-4 first level
        ("swin_tiny_patch4_window7_224", {"img_size": 128}),  # NHWC features
    ],
)
def test_timm_backbone_levels_by_stride(name, kwargs):
    backbone = TimmBackbone(name, **kwargs)
    shapes = backbone.output_shape()
    assert list(shapes) == ["res2", "res3", "res4", "res5"]
    assert [s.stride for s in shapes.values()] == [4, 8, 16, 32]
    assert backbone.size_divisibility == 32
    out = backbone(torch.randn(1, 3, 128, 128))
    for level, spec in shapes.items():
        assert out[level].shape == (1, spec.channels, 128 // spec.stride, 128 // spec.stride)


def test_timm_backbone_selects_subset_and_stride_2_level():
    backbone = TimmBackbone("test_resnet", out_features=("res1", "res3"))
    assert {k: v.stride for k, v in backbone.output_shape().items()} == {"res1": 2, "res3": 8}
    out = backbone(torch.randn(1, 3, 64, 64))
    assert out["res1"].shape[-1] == 32 and out["res3"].shape[-1] == 8


def test_timm_backbone_clear_errors():
    with pytest.raises(ValueError, match="no model named"):
        TimmBackbone("resnet_does_not_exist")
    with pytest.raises(ValueError, match=r"no feature level\(s\) \['res1'\]"):
        TimmBackbone("convnext_atto", out_features=("res1", "res2"))


def test_timm_backbone_freezing():
    frozen_bn = TimmBackbone("test_resnet", freeze_bn=True)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in frozen_bn.modules())
    stem_frozen = TimmBackbone("test_resnet", freeze_at=1)
    assert not stem_frozen.model.conv1[0].weight.requires_grad
    assert stem_frozen.model.layer1[0].conv1.weight.requires_grad
    res2_frozen = TimmBackbone("test_resnet", freeze_at=2)
    assert not res2_frozen.model.layer1[0].conv1.weight.requires_grad
    assert res2_frozen.model.layer2[0].conv1.weight.requires_grad


def test_timm_backbone_freezing_inside_containers():
    """MobileNet/EfficientNet feature levels are blocks inside one ``blocks`` container: freezing
    stops at the level, not at the end of the container."""
    def trainable(backbone):
        return [i for i, b in enumerate(backbone.model.blocks)
                if all(p.requires_grad for p in b.parameters())]

    levels = ("res1", "res2", "res3", "res4", "res5")
    every = TimmBackbone("mobilenetv3_small_050", out_features=levels)
    n_blocks = len(every.model.blocks)
    assert trainable(every) == list(range(n_blocks))
    stem = TimmBackbone("mobilenetv3_small_050", out_features=levels, freeze_at=1)
    assert not stem.model.conv_stem.weight.requires_grad
    assert trainable(stem) == list(range(n_blocks))
    # the output levels res2..res5 are blocks.0, blocks.1, blocks.3 and blocks.5
    assert trainable(TimmBackbone("mobilenetv3_small_050", freeze_at=2)) == list(range(1, n_blocks))
    assert trainable(TimmBackbone("mobilenetv3_small_050", freeze_at=3)) == list(range(2, n_blocks))


def test_timm_backbone_loads_local_weights(tmp_path):
    reference = timm.create_model("test_resnet")
    path = tmp_path / "weights.pth"
    torch.save(reference.state_dict(), path)
    backbone = TimmBackbone("test_resnet", weights=str(path))
    torch.testing.assert_close(backbone.model.conv1[0].weight, reference.conv1[0].weight)
