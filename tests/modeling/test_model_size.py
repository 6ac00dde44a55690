"""PRNet built from the config files has the paper's size (docs/paper.md)."""
import pytest

from prnet.analysis import count_flops, count_parameters
from prnet import build_model

# docs/paper.md (10 classes): unfused parameters and GFLOPs = 2 x conv multiply-adds at 640x640.
REFERENCE = {"s": (7_783_382, 44.16), "l": (24_584_822, 194.8)}


@pytest.mark.parametrize("scale", ["s", "l"])
def test_parameter_count_matches_paper(scale):
    model = build_model(f"configs/PRNet/prnet_{scale}.py", None, ["model.num_classes=10"])
    params = count_parameters(model)["total"]
    expected = REFERENCE[scale][0]
    # Our DFL decoding uses a fixed buffer where the reference keeps a 16-weight frozen conv.
    assert params == expected - 16
    assert abs(params - expected) / expected < 0.005


def test_gflops_match_paper_s():
    model = build_model("configs/PRNet/prnet_s.py", None, ["model.num_classes=10"])
    # Conv FLOPs scale exactly with the pixel count, so 320x320 x 4 is the 640x640 count (faster).
    gflops = count_flops(model, 320, 320)
    assert gflops["conv"] * 4 == pytest.approx(REFERENCE["s"][1], rel=0.02)
    assert gflops["conv_bn"] * 4 == pytest.approx(44.9, rel=0.02)


@pytest.mark.parametrize(
    "override,expected_m",
    [
        ("model.backbone.num_prn_layers=0", 7.12),  # ESSamp stem: 7.07 M (conv stem) + 57,960
        ("model.backbone.bottom_up.stem=conv", 7.73),  # "PRN with conv stem"
    ],
)
def test_one_line_overrides(override, expected_m):
    model = build_model("configs/PRNet/prnet_s.py", None, [override, "model.num_classes=10"])
    assert round(count_parameters(model)["total"] / 1e6, 2) == expected_m
