"""Swap the stem of a timm ``features_only`` model for ESSamp steps (PRNet's lossless downsampler).

The paper puts ESSamp on the first two stride-2 steps of its backbone (docs/paper.md). To try that on
other backbones we rebuild only those steps with the same input and output channels, so every later
stage, feature level and output stride stays as timm declares it in ``feature_info``. Per family
(timm's model module, so ``timm.list_models(module="resnet")`` is the resnet family):

* resnet: ``conv1`` (s2, any stem_type) -> ESSamp(3, C); ``bn1``, ``act1`` -> Identity;
  ``maxpool`` (s2) -> ESSamp(C, C). The stride-2 level (``act1``) keeps its C channels.
* convnext: the stride-4 stem (4x4/s4 patchify conv, or two s2 convs for ``*_ols``, then a norm)
  -> ESSamp(3, C') + ESSamp(C', C), C' = C / 2 (paper: 64 -> 128) or the first s2 conv's width.
* cspnet (cspresnet*, cspresnext*, cspdarknet*, darknet*, cs3*): the first two stride-2 steps among
  ``stem_*`` and ``stages_i.conv_down`` -> ESSamp(c_in, c_out) each.
* efficientnet, mobilenetv3 (also MobileNet-V1/V4, MnasNet, MixNet, LCNet, FBNet): ``conv_stem``
  (s2) -> ESSamp(3, C), ``bn1`` / ``act1`` -> Identity. One step only: the next stride-2 step is an
  inverted-residual block, which is kept.

The ESSamp layers start from random weights (pretrained stem weights are dropped). ``prnet_csp_*``
is not handled here: its own ``stem="essamp"`` argument builds the paper's stem.
"""
from __future__ import annotations

from typing import Callable

from timm.models import is_model_in_modules
from torch import nn

from ...layers import ESSamp

__all__ = ["ESSAMP_STEM_FAMILIES", "essamp_stem_family", "swap_stem_for_essamp"]


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def _stride(module: nn.Module) -> int:
    """Total stride of a stem step: product of the strides of its convs and pools."""
    total = 1
    for m in module.modules():
        s = getattr(m, "stride", None)
        if s is not None and not list(m.children()):
            total *= s[0] if isinstance(s, (tuple, list)) else int(s)
    return total


def _child(model: nn.Module, name: str, model_name: str) -> nn.Module:
    if not hasattr(model, name):
        raise ValueError(
            f"{model_name}: expected a stem module {name!r} in the features_only model, found "
            f"{[n for n, _ in model.named_children()]}; use essamp_stem=False for this variant."
        )
    return getattr(model, name)


def _expect_stride(module: nn.Module, stride: int, what: str, model_name: str):
    if _stride(module) != stride:
        raise ValueError(
            f"{model_name}: {what} has stride {_stride(module)}, expected {stride}; this "
            "variant's stem is not supported, use essamp_stem=False."
        )


def _swap_resnet(model: nn.Module, model_name: str, dm: int) -> list[str]:
    """ResNet/ResNeXt/SE-/ECA-ResNet (any ``stem_type``): conv1 + bn1 + act1 (s2), maxpool (s2)."""
    conv1 = _child(model, "conv1", model_name)
    maxpool = _child(model, "maxpool", model_name)
    _expect_stride(conv1, 2, "conv1", model_name)
    _expect_stride(maxpool, 2, "maxpool", model_name)
    c_in, c = _convs(conv1)[0].in_channels, _convs(conv1)[-1].out_channels
    model.conv1 = ESSamp(c_in, c, depth_multiplier=dm)  # stride-2 level "act1" keeps C channels
    model.bn1, model.act1 = nn.Identity(), nn.Identity()  # ESSamp has its own BN + GELU
    model.maxpool = ESSamp(c, c, depth_multiplier=dm)
    return ["conv1", "maxpool"]


def _swap_convnext(model: nn.Module, model_name: str, dm: int) -> list[str]:
    """ConvNeXt / ConvNeXt-V2: the stride-4 stem (patchify conv or two s2 convs, then a norm)."""
    names = [n for n, _ in model.named_children() if n.startswith("stem")]
    stem = nn.Sequential(*(getattr(model, n) for n in names))
    convs = _convs(stem)
    if not convs:
        raise ValueError(f"{model_name}: no stem convs found in {names}; use essamp_stem=False.")
    _expect_stride(stem, 4, "the stem", model_name)
    c_in, c_out = convs[0].in_channels, convs[-1].out_channels
    c_mid = convs[0].out_channels if _stride(convs[0]) == 2 else c_out // 2  # paper: 64 -> 128
    setattr(
        model,
        names[0],
        nn.Sequential(
            ESSamp(c_in, c_mid, depth_multiplier=dm), ESSamp(c_mid, c_out, depth_multiplier=dm)
        ),
    )
    for n in names[1:]:
        setattr(model, n, nn.Identity())
    return [names[0]]


def _swap_cspnet(model: nn.Module, model_name: str, dm: int) -> list[str]:
    """timm CspNet/DarkNet (cspresnet, cspresnext, cspdarknet, darknet, cs3*): the first two
    stride-2 steps, wherever they are (cspresnet50: stem conv + pool; cspdarknet53: the
    ``conv_down`` of its first two stages, after a stride-1 stem conv)."""
    steps = [(n, m) for n, m in model.named_children() if n.startswith("stem")]
    steps += [
        (f"{n}.conv_down", m.conv_down)
        for n, m in model.named_children()
        if n.startswith("stages") and hasattr(m, "conv_down")
    ]
    c, replaced = None, []
    for name, step in steps:
        convs = _convs(step)
        c_in = convs[0].in_channels if convs else c
        c_out = convs[-1].out_channels if convs else c
        c = c_out
        if _stride(step) == 1:
            continue
        if _stride(step) != 2 or c_in is None:
            raise ValueError(f"{model_name}: unsupported stem step {name}; use essamp_stem=False.")
        parent, _, attr = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, attr, ESSamp(c_in, c_out, depth_multiplier=dm))
        replaced.append(name)
        if len(replaced) == 2:
            return replaced
    raise ValueError(
        f"{model_name}: fewer than two stride-2 stem steps found; use essamp_stem=False."
    )


def _swap_mobile(model: nn.Module, model_name: str, dm: int) -> list[str]:
    """EfficientNet/MobileNet-V1..V4/MnasNet/MixNet/LCNet: the stride-2 ``conv_stem`` + ``bn1``.
    Their next stride-2 step is an inverted-residual block, which is kept."""
    conv = _child(model, "conv_stem", model_name)
    _expect_stride(conv, 2, "conv_stem", model_name)
    model.conv_stem = ESSamp(conv.in_channels, conv.out_channels, depth_multiplier=dm)
    model.bn1 = nn.Identity()
    if hasattr(model, "act1"):  # MobileNetV3 keeps the activation apart from bn1
        model.act1 = nn.Identity()
    return ["conv_stem"]


#: timm model module -> how to swap its stem.
ESSAMP_STEM_FAMILIES: dict[str, Callable[[nn.Module, str, int], list[str]]] = {
    "resnet": _swap_resnet,
    "convnext": _swap_convnext,
    "cspnet": _swap_cspnet,
    "efficientnet": _swap_mobile,
    "mobilenetv3": _swap_mobile,
}


def essamp_stem_family(model_name: str) -> str:
    """The timm module (family) of ``model_name`` if its stem can be swapped, else a ValueError."""
    for family in ESSAMP_STEM_FAMILIES:
        if is_model_in_modules(model_name, family):
            return family
    raise ValueError(
        f"essamp_stem is not supported for {model_name!r}: its stem can be swapped only for the "
        f"timm families {sorted(ESSAMP_STEM_FAMILIES)} (see timm.list_models(module='resnet')), "
        "and prnet_csp_* has its own stem='essamp'. Use essamp_stem=False for other models."
    )


def swap_stem_for_essamp(model: nn.Module, model_name: str, depth_multiplier: int = 2) -> list[str]:
    """Replace, in place, the stem of ``model`` (``timm.create_model(model_name,
    features_only=True)``) by ESSamp steps with the same channels and strides.

    Returns the names of the new ESSamp modules (``"stages_0.conv_down"`` style for nested ones)."""
    family = essamp_stem_family(model_name)
    return ESSAMP_STEM_FAMILIES[family](model, model_name, depth_multiplier)

