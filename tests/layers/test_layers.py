"""Shape contracts and parameter formulas of the building blocks (docs/paper.md)."""
import pytest
import torch
from torch import nn

from prnet.layers import C2PSA, C3k, C3k2, SPPF, Bottleneck, Conv, ESSamp, ESSampExportForm


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("c_in,c_out,k,m", [(3, 64, 3, 2), (64, 128, 3, 2), (8, 16, 5, 1), (4, 4, 3, 4)])
def test_essamp_shape_and_params(c_in, c_out, k, m):
    layer = ESSamp(c_in, c_out, k=k, depth_multiplier=m)
    y = layer(torch.randn(2, c_in, 10, 14))
    assert y.shape == (2, c_out, 5, 7)
    assert n_params(layer) == 4 * c_in * m * (k * k + 2) + 4 * c_in * m * c_out + 2 * c_out


def test_essamp_reference_sizes():
    assert n_params(ESSamp(3, 64)) == 1_928
    assert n_params(ESSamp(64, 128)) == 71_424


def test_essamp_is_lossless_space_to_depth():
    """Every input pixel reaches the depthwise conv: PixelUnshuffle is invertible."""
    layer = ESSamp(3, 8)
    x = torch.randn(1, 3, 6, 8)
    torch.testing.assert_close(nn.PixelShuffle(2)(layer.unshuffle(x)), x)


@pytest.mark.parametrize("size", [(7, 8), (8, 9), (5, 5)])
def test_essamp_rejects_odd_sizes(size):
    with pytest.raises(ValueError, match="even height and width"):
        ESSamp(3, 8)(torch.randn(1, 3, *size))


def test_conv_stride_and_bn_settings():
    conv = Conv(3, 8, 3, 2)
    assert conv(torch.randn(1, 3, 9, 9)).shape == (1, 8, 5, 5)
    assert conv.bn.eps == 1e-3 and conv.bn.momentum == 0.03
    assert conv.conv.bias is None


def test_bottleneck_residual_only_when_shapes_match():
    assert Bottleneck(8, 8).add and not Bottleneck(8, 16).add and not Bottleneck(8, 8, shortcut=False).add


@pytest.mark.parametrize(
    "block,expected",
    [
        (C3k2(128, 128, 1, c3k=False, e=0.25), 30_176),  # spec layer 2, scale s
        (C3k2(256, 256, 1, c3k=True), 346_112),  # layer 6
        (C3k2(128, 256, 2, c3k=True, e=0.25), 173_824),  # layer 2, scale l
        (C3k(128, 128, 2), 181_248),
        (SPPF(512, 512), 656_896),  # layer 9
        (C2PSA(512, 512, 1), 990_976),  # layer 10, scale s
        (C2PSA(512, 512, 2), 1_455_616),  # layer 10, scale l
    ],
)
def test_block_parameter_counts(block, expected):
    assert n_params(block) == expected


@pytest.mark.parametrize(
    "block,c_in,c_out",
    [
        (C3k2(16, 24, 2, c3k=False), 16, 24),
        (C3k2(16, 24, 1, c3k=True), 16, 24),
        (C3k(16, 32, 2), 16, 32),
        (SPPF(16, 8), 16, 8),
        (C2PSA(64, 64, 1), 64, 64),
    ],
)
def test_blocks_keep_spatial_size(block, c_in, c_out):
    assert block(torch.randn(2, c_in, 6, 10)).shape == (2, c_out, 6, 10)


def test_c2psa_attention_sees_all_positions():
    """Changing one far-away pixel changes the output everywhere (global attention)."""
    torch.manual_seed(0)
    block = C2PSA(64, 64).eval()
    x = torch.randn(1, 64, 8, 8)
    y0 = block(x)
    x2 = x.clone()
    x2[..., 7, 7] += 5.0
    assert (block(x2) - y0)[..., 0, 0].abs().max() > 1e-4


def _randomise_bn(module: nn.Module) -> nn.Module:
    """BN statistics far from the identity, as after training."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return module.eval()


def _assert_same_head_outputs(model, other, x):
    with torch.no_grad():
        outputs = []
        for m in (model, other):
            features = m.backbone(x)
            outputs.append(m.head([features[f] for f in m.head_in_features]))
    for e, g in zip(*outputs):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-4)


def test_fused_model_equals_the_unfused_one():
    """BN folded into the convs (Conv, ESSamp, the head): same outputs in eval mode, no BN left."""
    import copy

    from prnet import build_model

    torch.manual_seed(0)
    model = _randomise_bn(build_model("configs/PRNet/prnet_n.py", overrides=["model.num_classes=7"]))
    fused = copy.deepcopy(model).fuse()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert fused.fuse() is fused  # twice is harmless
    x = torch.rand(2, 3, 96, 128)
    _assert_same_head_outputs(model, fused, x)
    images = [{"image": (x[0] * 255).to(torch.uint8)}]
    model.test_score_thresh = fused.test_score_thresh = 0.0  # the untrained head scores ~1e-4
    with torch.no_grad():
        a, b = model(images)[0]["instances"], fused(images)[0]["instances"]
    # detections sorted by score: the same scores (classes may swap among near ties)
    n = min(len(a), len(b), 50)
    assert n > 0
    torch.testing.assert_close(b.scores[:n], a.scores[:n], rtol=0, atol=1e-4)


@pytest.mark.parametrize("c_in,c_out,m", [(3, 16, 2), (4, 8, 1), (5, 12, 3)])
def test_essamp_export_form_computes_the_same(c_in, c_out, m):
    """Slices + m true depthwise convs + summed pointwise convs, BN folded: ESSamp's outputs; only
    true depthwise convs (no grouped conv with several outputs per group) and no PixelUnshuffle."""
    torch.manual_seed(c_in)
    essamp = _randomise_bn(ESSamp(c_in, c_out, depth_multiplier=m))
    export_form = ESSampExportForm(essamp)
    assert len(export_form.depthwise) == len(export_form.pointwise) == m
    assert all(c.groups == c.in_channels == c.out_channels for c in export_form.depthwise)
    assert not any(isinstance(mod, (nn.PixelUnshuffle, nn.BatchNorm2d)) for mod in export_form.modules())
    x = torch.randn(2, c_in, 10, 14)
    with torch.no_grad():
        torch.testing.assert_close(export_form(x), essamp(x), rtol=1e-5, atol=1e-5)
    double = ESSampExportForm(essamp.double())  # built on the given module's device and dtype
    assert {p.dtype for p in double.parameters()} == {torch.float64}


def test_export_form_of_a_model_equals_the_model():
    """What exported graphs trace (``to_export_form``): no ESSamp left, the same head outputs."""
    import copy

    from prnet import build_model
    from prnet.layers import to_export_form

    torch.manual_seed(1)
    model = _randomise_bn(build_model("configs/PRNet/prnet_n.py", overrides=["model.num_classes=7"]))
    exported = to_export_form(copy.deepcopy(model))
    assert not any(isinstance(m, (ESSamp, nn.BatchNorm2d)) for m in exported.modules())
    assert sum(isinstance(m, ESSampExportForm) for m in exported.modules()) == 2  # the stem
    _assert_same_head_outputs(model, exported, torch.rand(2, 3, 96, 128))
