"""prnet computes the same network as Ultralytics' YOLO11 and as the PRNet authors' network, given
the same weights (needs the optional ``ultralytics`` package, used here as a reference only).

Models are built by Ultralytics from YAML (YOLO11 n/s from its own, PRNet n/s/l from
``prnet_paper.yaml``, written from the paper's layer table, with an ESSamp module defined here in
the authors' layout), given random weights and BatchNorm statistics, saved the way Ultralytics'
trainer saves checkpoints, read back by Ultralytics itself, converted with
``tools/convert_ultralytics.py``, and run on the same input: the raw head outputs (DFL logits and
class logits of every level) must agree within 1e-4 in float32 eval mode.
"""
import copy
import os

import pytest
import torch
import torch.nn.functional as F
import yaml
from PIL import Image
from torch import nn

from prnet.analysis import DenseForward
from prnet import build_model
from prnet.cli import convert

_image_open = Image.open
ultralytics = pytest.importorskip("ultralytics", reason="optional peer: pip install ultralytics")
from ultralytics.cfg import get_cfg  # noqa: E402
from ultralytics.nn import tasks  # noqa: E402
from ultralytics.nn.modules import block  # noqa: E402

Image.open = _image_open  # Ultralytics patches it on import (HEIC support): keep PIL's for others

HERE = os.path.dirname(os.path.abspath(__file__))
WIDTH = {"n": 0.25, "s": 0.5, "l": 1.0}


class ESSamp(nn.Module):
    """The authors' ESSamp layout: ``dsconv.block`` = depthwise conv, BN, GELU, 1x1 conv, BN, GELU
    after a 2x2 space-to-depth (checkpoint keys ``dsconv.block.{0,1,3,4}``)."""

    def __init__(self, c_in, c_out, k=3, m=2):
        super().__init__()
        c = 4 * c_in
        self.dsconv = nn.Module()
        self.dsconv.block = nn.Sequential(
            nn.Conv2d(c, c * m, k, 1, k // 2, groups=c, bias=False),
            nn.BatchNorm2d(c * m, eps=1e-3, momentum=0.03),
            nn.GELU(),
            nn.Conv2d(c * m, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.03),
            nn.GELU(),
        )

    def forward(self, x):
        return self.dsconv.block(F.pixel_unshuffle(x, 2))


def _images(seed):
    return torch.rand(2, 3, 192, 256, generator=torch.Generator().manual_seed(seed))


def _randomize(model, seed):
    """Random BatchNorm affine parameters, and BatchNorm statistics measured on the test images in
    eval mode, layer by layer: activations then stay O(1) through the network, as in a trained
    one, so the head sees the input (a network whose outputs hardly depend on it would match
    anything) and 1e-4 is a float32 tolerance rather than a relative one."""
    g = torch.Generator().manual_seed(seed)
    uniform = lambda t, lo, hi: t.copy_(torch.rand(t.shape, generator=g) * (hi - lo) + lo)  # noqa: E731

    def calibrate(bn, inputs):  # before the layer runs: its statistics := its input's
        x = inputs[0]
        var = x.var(dim=(0, 2, 3))
        bn.running_mean.copy_(x.mean(dim=(0, 2, 3)))
        # channels (nearly) silent here would amplify any other input
        bn.running_var.copy_(var.clamp(min=0.2 * var.median().item()))

    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    model.eval()
    with torch.no_grad():
        for m in bns:
            uniform(m.weight, 0.1, 0.25)  # small: perturbations do not compound layer by layer
            uniform(m.bias, -0.1, 0.1)
        hooks = [m.register_forward_pre_hook(calibrate) for m in bns]
        model(_images(0))
        for h in hooks:
            h.remove()
    return model


def _save_like_ultralytics(model, path):
    """What Ultralytics' trainer writes at the end of training (EMA in half precision)."""
    ckpt = {"epoch": -1, "best_fitness": None, "model": None, "ema": copy.deepcopy(model).half(),
            "updates": 100, "optimizer": None, "train_args": vars(get_cfg()),
            "train_metrics": {}, "date": "2026-12-03T00:00:00", "version": ultralytics.__version__}
    torch.save(ckpt, path)


def _raw_head_outputs(detect, run):
    """The per-level ``cv2`` (box) and ``cv3`` (class) outputs of an Ultralytics Detect, flattened
    like prnet's head: ``(N, A, 4 reg_max)``, ``(N, A, nc)``."""
    raw = {}
    hooks = [branch.register_forward_hook(lambda _m, _i, out, key=(name, level): raw.__setitem__(key, out))
             for name in ("cv2", "cv3") for level, branch in enumerate(getattr(detect, name))]  # fmt: skip
    with torch.no_grad():
        run()
    for h in hooks:
        h.remove()
    levels = range(len(detect.cv2))
    return tuple(torch.cat([raw[(n, lvl)].flatten(2) for lvl in levels], 2).transpose(1, 2)
                 for n in ("cv2", "cv3"))  # fmt: skip


def _compare(path, tmp_path, expected_config):
    reference = tasks.load_checkpoint(str(path))[0].float().eval()  # Ultralytics reads the file
    out = tmp_path / "converted.pth"
    meta = convert.main([str(path), str(out)])
    assert meta["config"].endswith(expected_config) and meta["conversion"]["left_at_init"] == []
    model = build_model(meta["config"], weights=str(out), overrides=meta["overrides"])
    x = _images(0)
    box_ref, cls_ref = _raw_head_outputs(reference.model[-1], lambda: reference(x))
    with torch.no_grad():
        box, cls = DenseForward(model)(x)
    diff = max((box - box_ref).abs().max().item(), (cls - cls_ref).abs().max().item())
    # the outputs depend on the input (else any network would agree)
    other = _images(1)
    with torch.no_grad():
        moved = (DenseForward(model)(other)[0] - box).abs().mean().item()
    print(f"{os.path.basename(path)}: max |diff| {diff:.3g}; outputs up to "
          f"{box_ref.abs().max().item():.3g}, change {moved:.3g} on another input")
    assert diff <= 1e-4 and moved > 1e-2, (diff, moved)
    return diff


@pytest.mark.parametrize("scale", ["n", "s"])
def test_yolo11_equals_prnet_pan(scale, tmp_path):
    torch.manual_seed(0)  # the convs' initialisation
    model = _randomize(tasks.DetectionModel(f"yolo11{scale}.yaml", nc=80, verbose=False), 1)
    path = tmp_path / f"yolo11{scale}.pt"
    _save_like_ultralytics(model, path)
    _compare(path, tmp_path, "configs/ablations/pan_s.py")


def _prnet_reference(scale: str) -> nn.Module:
    with open(os.path.join(HERE, "prnet_paper.yaml"), encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    stem = {"STEM1": 64, "STEM2": 128}
    for layer in cfg["backbone"][:2]:  # Conv layers that come out 64 / 128 wide at this scale
        layer[3][0] = round(stem[layer[3][0]] / WIDTH[scale])
    cfg["scale"] = scale
    model = tasks.DetectionModel(cfg, nc=10, verbose=False)
    for i, (c_in, c_out) in enumerate(((3, 64), (64, 128))):
        old, new = model.model[i], ESSamp(c_in, c_out)
        new.i, new.f, new.type, new.np = old.i, old.f, "ESSamp", sum(p.numel() for p in new.parameters())
        model.model[i] = new
    return model


@pytest.mark.parametrize("scale", ["n", "s", "l"])
def test_authors_prnet_equals_prnet(scale, tmp_path, monkeypatch):
    # pickle stores ESSamp under an Ultralytics module path, as in the authors' code base
    monkeypatch.setattr(ESSamp, "__module__", block.__name__)
    monkeypatch.setattr(block, "ESSamp", ESSamp, raising=False)
    torch.manual_seed(0)  # the convs' initialisation
    model = _randomize(_prnet_reference(scale), 2)
    path = tmp_path / f"prnet_{scale}.pt"
    _save_like_ultralytics(model, path)
    keys = model.state_dict().keys()
    assert {k for k in keys if k.startswith("model.0.")} >= {
        "model.0.dsconv.block.0.weight", "model.0.dsconv.block.1.running_var",
        "model.0.dsconv.block.3.weight", "model.0.dsconv.block.4.bias"}  # fmt: skip
    assert max(int(k.split(".")[1]) for k in keys) == 38  # Detect
    _compare(path, tmp_path, f"configs/PRNet/prnet_{scale}.py")
