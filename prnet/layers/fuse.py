"""Fold BatchNorm into the preceding convolution for inference (``conv(x) * s + t`` is one conv).

Every BN of prnet's own blocks directly follows a conv (``Conv``: conv -> BN -> act; ``ESSamp``:
depthwise -> BN -> GELU -> pointwise -> BN -> GELU), so in eval mode each pair becomes one conv with
a bias (``torch.nn.utils.fuse_conv_bn_eval``) and the BN an ``Identity``. Outputs are equal up to
float rounding; there are a third fewer kernels to launch and no BN passes over the activations.
ONNX Runtime and TensorRT do the same folding on exported graphs; this brings it to eager PyTorch.
Other modules (a timm backbone's own blocks) are left as they are.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils import fuse_conv_bn_eval

from .blocks import Conv
from .essamp import ESSamp

__all__ = ["fuse_conv_bn"]


def _fused(conv: nn.Conv2d, bn: nn.Module) -> nn.Conv2d:
    return fuse_conv_bn_eval(conv.eval(), bn.eval()) if isinstance(bn, nn.BatchNorm2d) else conv


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """Fold every BN of ``Conv`` and ``ESSamp`` modules in ``model`` into its conv, in place.

    Returns ``model``, in eval mode (a fused model cannot be trained: its BNs are gone). Calling it
    twice is harmless.
    """
    model.eval()
    for module in model.modules():
        if isinstance(module, Conv):
            module.conv, module.bn = _fused(module.conv, module.bn), nn.Identity()
        elif isinstance(module, ESSamp):
            module.dw, module.bn1 = _fused(module.dw, module.bn1), nn.Identity()
            module.pw, module.bn2 = _fused(module.pw, module.bn2), nn.Identity()
    return model
