"""The PRN neck: structure, sizes against the paper's layer table, any backbone, 0-3 refinement layers."""
import pytest
import torch

from prnet.modeling import PRN, TimmBackbone
from prnet.layers import make_downsample


def n_params(m) -> int:
    return sum(p.numel() for p in m.parameters())


def test_prn_outputs_named_by_stride_with_scaled_widths():
    neck = PRN(TimmBackbone("prnet_csp_n"), scale="n")
    shapes = neck.output_shape()
    assert {k: (v.channels, v.stride) for k, v in shapes.items()} == {
        "p2": (32, 4),
        "p3": (64, 8),
        "p4": (128, 16),
    }
    out = neck(torch.randn(2, 3, 96, 64))
    for name, spec in shapes.items():
        assert out[name].shape == (2, spec.channels, 96 // spec.stride, 64 // spec.stride)
    assert neck.size_divisibility == 32
    assert neck.padding_constraints == {"size_divisibility": 32, "square_size": 0}


def test_prn_paper_neck_sizes():
    # docs/paper.md layer table: whole model minus the head (432,622 at s, 823,278 at l).
    assert n_params(PRN(TimmBackbone("prnet_csp_s"), scale="s")) == 7_783_382 - 432_622
    assert n_params(PRN(TimmBackbone("prnet_csp_l"), scale="l")) == 24_584_822 - 823_278


@pytest.mark.parametrize("layers,expected_m", [(0, 7.07), (1, 7.73), (2, 8.43), (3, 9.13)])
def test_prn_rounds_match_reference(layers, expected_m):
    """Spec: 0..3 PRN layers, scale s, conv stem -> 7.07 / 7.73 / 8.43 / 9.13 M params (with head)."""
    neck = PRN(TimmBackbone("prnet_csp_s", stem="conv"), scale="s", num_prn_layers=layers)
    assert len(neck.prn_layers) == layers
    assert round((n_params(neck) + 432_622) / 1e6, 2) == expected_m


def test_prn_reuses_shallow_maps_in_every_stage():
    """B2 and B3 feed stage 1, every PRN layer, and the output stage (the paper's key idea)."""
    neck = PRN(TimmBackbone("prnet_csp_n"), scale="n", num_prn_layers=2)
    c_b2, c_b3 = (neck.bottom_up.output_shape()[f].channels for f in ("res2", "res3"))
    c_s = neck.prn_layers[0].out_channels
    for layer in neck.prn_layers:
        assert layer.fuse3.cv1.conv.in_channels == neck.prn_layers[0].refine3.cv2.conv.out_channels + c_b3
        assert layer.fuse2.cv1.conv.in_channels - c_b2 > 0
    assert neck.out_fuse3.cv1.conv.in_channels == neck.out_fuse4.cv2.conv.out_channels + c_b3
    assert neck.out_fuse2.cv1.conv.in_channels == c_b2 + c_s + neck.out_fuse3.cv2.conv.out_channels
    # The output stage starts from the refined stride-4 map, not from B4/B5.
    assert neck.out_down3.conv.in_channels == c_s


def test_prn_output_depends_on_refinement_layers():
    torch.manual_seed(0)
    neck = PRN(TimmBackbone("prnet_csp_n"), scale="n", num_prn_layers=1).eval()
    x = torch.randn(1, 3, 64, 64)
    before = neck(x)["p4"].clone()
    with torch.no_grad():
        for p in neck.prn_layers[0].parameters():
            p.mul_(1.5)
    assert not torch.allclose(neck(x)["p4"], before)


def test_prn_essamp_downsampling_and_other_backbones():
    neck = PRN(TimmBackbone("convnext_atto"), scale="n", downsample="essamp")
    assert type(neck.out_down3).__name__ == "ESSamp"
    out = neck(torch.randn(1, 3, 64, 64))
    assert out["p2"].shape[-1] == 16 and out["p4"].shape[-1] == 4


def test_prn_rejects_bad_inputs():
    with pytest.raises(ValueError, match="four bottom-up levels"):
        PRN(TimmBackbone("test_resnet", out_features=("res2", "res3", "res4")), scale="n")
    with pytest.raises(ValueError, match="four bottom-up levels"):
        PRN(TimmBackbone("test_resnet", out_features=("res1", "res3", "res4", "res5")), scale="n")
    with pytest.raises(ValueError, match="num_prn_layers"):
        PRN(TimmBackbone("prnet_csp_n"), scale="n", num_prn_layers=-1)
    with pytest.raises(ValueError, match="Unknown model scale"):
        PRN(TimmBackbone("prnet_csp_n"), scale="q")
    with pytest.raises(ValueError, match="Unknown downsampling"):
        make_downsample("maxpool", 8, 8)
