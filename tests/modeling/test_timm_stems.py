"""ESSamp stems for timm backbones (``TimmBackbone(essamp_stem=True)``, ``backbone/stems.py``): same
levels, strides and channels as the original stem, really ESSamp, trainable through PRN."""
import logging

import pytest
import timm
import torch
from torch import nn

from prnet.layers import ESSamp
from prnet.modeling import PRN, TimmBackbone
from prnet.modeling.backbone import essamp_stem_family

LEVELS = ("res2", "res3", "res4", "res5")

# model -> (family, new ESSamp modules). Small models, random weights; both cspnet layouts.
CASES = {
    "test_resnet": ("resnet", ["conv1", "maxpool"]),  # deep (3-conv) stem
    "test_convnext": ("convnext", ["stem_0"]),  # 4x4/s4 patchify stem, two ESSamp inside
    "cspresnet50": ("cspnet", ["stem_conv1", "stem_pool"]),  # s2 conv + s2 max-pool stem
    "darknet17": ("cspnet", ["stages_0.conv_down", "stages_1.conv_down"]),  # stride-1 stem conv
    "cs3darknet_s": ("cspnet", ["stem_conv1", "stages_0.conv_down"]),  # one step in each
    "mobilenetv3_small_050": ("mobilenetv3", ["conv_stem"]),
    "test_efficientnet": ("efficientnet", ["conv_stem"]),
}
NUM_ESSAMP = {"resnet": 2, "convnext": 2, "cspnet": 2, "mobilenetv3": 1, "efficientnet": 1}


def _essamps(module: nn.Module) -> list[ESSamp]:
    return [m for m in module.modules() if isinstance(m, ESSamp)]


@pytest.mark.parametrize("name", CASES)
def test_swapped_stem_keeps_levels_and_is_essamp(name):
    family, swapped = CASES[name]
    assert essamp_stem_family(name) == family
    torch.manual_seed(0)
    conv = TimmBackbone(name, out_features=LEVELS)
    ess = TimmBackbone(name, out_features=LEVELS, essamp_stem=True)
    assert ess.output_shape() == conv.output_shape()
    assert [s.stride for s in ess.output_shape().values()] == [4, 8, 16, 32]
    assert conv.essamp_stem_modules == [] and not _essamps(conv)
    assert ess.essamp_stem_modules == swapped
    for module_name in swapped:
        stem = ess.model.get_submodule(module_name)
        assert isinstance(stem, ESSamp) or all(isinstance(m, ESSamp) for m in stem)
    assert len(_essamps(ess)) == NUM_ESSAMP[family]
    # only the stem differs: the later stages keep their parameter count
    stem_params = sum(p.numel() for m in _essamps(ess) for p in m.parameters())
    conv_params = sum(p.numel() for p in conv.parameters())
    ess_params = sum(p.numel() for p in ess.parameters())
    assert ess_params - stem_params < conv_params
    ess.eval()
    with torch.no_grad():
        out = ess(torch.randn(2, 3, 64, 96))
    for level, spec in ess.output_shape().items():
        assert out[level].shape == (2, spec.channels, 64 // spec.stride, 96 // spec.stride)


@pytest.mark.parametrize("name", ["test_resnet", "cspresnet50", "mobilenetv3_small_050"])
def test_stride2_level_survives_the_swap(name):
    """ESSamp keeps the stem's stride-2 width, so the res1 level is still there."""
    conv = TimmBackbone(name, out_features=("res1",) + LEVELS)
    ess = TimmBackbone(name, out_features=("res1",) + LEVELS, essamp_stem=True)
    assert ess.output_shape() == conv.output_shape()
    ess.eval()
    with torch.no_grad():
        res1 = ess(torch.randn(1, 3, 64, 64))["res1"]
    assert res1.shape == (1, ess.output_shape()["res1"].channels, 32, 32)


@pytest.mark.parametrize(
    "name",
    ["test_resnet", "test_convnext", "cs3darknet_s", "mobilenetv3_small_050", "test_efficientnet"],
)
def test_prn_over_essamp_stem_trains(name):
    """One small model per family: PRN takes the backbone's channels; gradients reach the stem."""
    torch.manual_seed(0)
    neck = PRN(TimmBackbone(name, out_features=LEVELS, essamp_stem=True), scale="n")
    neck.train()
    outputs = neck(torch.randn(2, 3, 64, 64))
    assert [o.shape[-1] for o in outputs.values()] == [16, 8, 4]
    sum(o.float().pow(2).mean() for o in outputs.values()).backward()
    for stem in _essamps(neck.bottom_up):
        for p in stem.parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_depth_multiplier_reaches_the_stem():
    backbone = TimmBackbone("test_resnet", essamp_stem=True, essamp_depth_multiplier=1)
    first = backbone.model.conv1
    assert first.dw.out_channels == 4 * 3 * 1 and first.pw.out_channels == 32


@pytest.mark.parametrize("name", ["regnetx_002", "test_byobnet", "swin_tiny_patch4_window7_224"])
def test_unsupported_family_fails_clearly(name):
    with pytest.raises(ValueError, match="resnet.*essamp_stem=False"):
        TimmBackbone(name, essamp_stem=True)


def test_prnet_csp_uses_its_own_stem_argument():
    native = TimmBackbone("prnet_csp_n", stem="conv", essamp_stem=False)
    assert not _essamps(native.model.stem)
    backbone = TimmBackbone("prnet_csp_n", essamp_stem=True, essamp_depth_multiplier=1)
    assert isinstance(backbone.model.stem, ESSamp) and backbone.model.stem.dw.out_channels == 12
    assert backbone.essamp_stem_modules == []  # nothing swapped: built by the model itself
    with pytest.raises(ValueError, match="contradicts"):
        TimmBackbone("prnet_csp_n", essamp_stem=True, stem="conv")


def test_local_weights_load_everywhere_but_the_stem(tmp_path, caplog):
    torch.manual_seed(1)
    source = timm.create_model("test_resnet")
    path = tmp_path / "test_resnet.pth"
    torch.save(source.state_dict(), path)
    with caplog.at_level(logging.WARNING):
        backbone = TimmBackbone("test_resnet", weights=str(path), essamp_stem=True)
    assert "pretrained stem weights are dropped" in caplog.text
    torch.testing.assert_close(
        backbone.model.layer1[0].conv1.weight, source.layer1[0].conv1.weight
    )
    assert isinstance(backbone.model.conv1, ESSamp)


def test_freezing_a_new_stem_warns(caplog):
    with caplog.at_level(logging.WARNING):
        backbone = TimmBackbone("test_resnet", essamp_stem=True, freeze_at=1)
    assert not any(p.requires_grad for p in backbone.model.conv1.parameters())
    assert "freezes the new ESSamp stem" in caplog.text
