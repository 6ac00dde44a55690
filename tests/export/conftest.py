import pytest
import torch
from detectron2.config import LazyConfig, instantiate

CONFIG = "configs/PRNet/prnet_n.py"


@torch.no_grad()
def _spread_head_outputs(model, images: torch.Tensor, seed: int = 0) -> None:
    """Re-draw the last 1x1 conv of every head branch so its logits have a useful spread.

    At initialisation activations shrink with depth (features ~1e-6) and every score sits at
    the prior, so detections would be ties. Rescaling only the last layers to the measured
    statistics of their inputs gives varied boxes and scores (class logits ~ N(-3, 2^2), DFL
    logits ~ N(0, 2^2)) while every earlier layer is computed, and compared, as it is.
    """
    g = torch.Generator().manual_seed(seed)
    last = [b[-1] for b in model.head.cls_branches] + [b[-1] for b in model.head.box_branches]
    inputs = {}
    handles = [
        conv.register_forward_pre_hook(lambda m, a: inputs.__setitem__(m, a[0])) for conv in last
    ]
    model([{"image": im} for im in images])
    for h in handles:
        h.remove()
    for conv in last:
        x = inputs[conv].double()
        mean = x.mean((0, 2, 3))
        std = (x - mean[None, :, None, None]).std().clamp_min(1e-30)
        c_out, c_in = conv.weight.shape[:2]
        w = torch.randn((c_out, c_in), generator=g, dtype=torch.float64) * 2.0 / (std * c_in**0.5)
        target = -3.0 if conv.out_channels == model.num_classes else 0.0
        conv.weight.copy_(w.view_as(conv.weight).float())
        conv.bias.copy_((target - w @ mean).float())


def make_images(n: int = 4, size: int = 64, seed: int = 0) -> torch.Tensor:
    """Varied uint8 images: noise at several scales, brightness and contrast."""
    g = torch.Generator().manual_seed(seed)
    images = []
    for i in range(n):
        cell = (1, 4, 16, 2, 8, 32)[i % 6]
        base = torch.rand((1, 3, max(1, size // cell), max(1, size // cell)), generator=g)
        x = torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear")[0]
        lo, span = torch.rand(2, generator=g).tolist()
        images.append((255 * (lo * 0.5 + span * x)).clamp(0, 255).to(torch.uint8))
    return torch.stack(images)


def tiny_prnet(num_classes: int = 3, seed: int = 0, **overrides):
    """PRNet-n with random weights and head outputs spread out (see _spread_head_outputs)."""
    cfg = LazyConfig.load(CONFIG)
    cfg.model.num_classes = num_classes
    cfg.model.test_score_thresh = 0.05
    cfg.model.max_detections_per_image = 60
    for k, v in overrides.items():
        setattr(cfg.model, k, v)
    torch.manual_seed(seed)
    model = instantiate(cfg.model).eval()
    _spread_head_outputs(model, make_images(4, 96, seed))
    return model


@pytest.fixture(scope="package")
def prnet_model():
    return tiny_prnet()


@pytest.fixture(scope="package")
def sample_images():
    """``sample_images(n, size, seed)``: varied uint8 ``(n, 3, size, size)`` images."""
    return make_images
