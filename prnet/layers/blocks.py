"""YOLO11-family building blocks, as the PRNet network uses them (docs/paper.md, building blocks).

Written from the published description: every conv is conv -> BN (eps 1e-3, momentum 0.03) -> SiLU
unless stated otherwise. Shapes are ``(N, C, H, W)``; only ``Conv`` with ``s > 1`` changes H and W.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "BN_EPS",
    "BN_MOMENTUM",
    "make_bn",
    "fold_bn",
    "Conv",
    "DWConv",
    "Bottleneck",
    "C3k",
    "C3k2",
    "SPPF",
    "Attention",
    "PSABlock",
    "C2PSA",
]

# The reference sets these on every BatchNorm (PyTorch defaults are 1e-5 / 0.1).
BN_EPS = 1e-3
BN_MOMENTUM = 0.03


def make_bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def fold_bn(conv: nn.Conv2d, bn: nn.Module) -> nn.Conv2d:
    """``conv`` followed by eval-mode ``bn`` as one conv with a bias; ``conv`` itself when ``bn`` is
    not a BatchNorm (already folded: an ``Identity``)."""
    if not isinstance(bn, nn.BatchNorm2d):
        return conv
    return nn.utils.fuse_conv_bn_eval(conv.eval(), bn.eval())


class Conv(nn.Module):
    """``k x k`` conv (stride ``s``, padding ``k // 2``, no bias) -> BN -> SiLU (or identity).

    ``(N, c1, H, W) -> (N, c2, H / s, W / s)``.
    """

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, groups: int = 1, act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, groups=groups, bias=False)
        self.bn = make_bn(c2)
        self.act = nn.SiLU() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class DWConv(Conv):
    """Depthwise ``Conv`` (groups = gcd(c1, c2)); used by the head's class branch."""

    def __init__(self, c1: int, c2: int, k: int = 3, s: int = 1, act: bool = True):
        super().__init__(c1, c2, k, s, groups=math.gcd(c1, c2), act=act)


class Bottleneck(nn.Module):
    """Two 3x3 ``Conv``s with hidden width ``int(c2 * e)``; residual add if ``shortcut and c1 == c2``."""

    def __init__(self, c1: int, c2: int, shortcut: bool = True, e: float = 0.5):
        super().__init__()
        hidden = int(c2 * e)
        self.cv1 = Conv(c1, hidden, 3)
        self.cv2 = Conv(hidden, c2, 3)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3k(nn.Module):
    """CSP block: two 1x1 ``Conv``s to ``c2 / 2``; one branch runs ``n`` full-width residual
    Bottlenecks (e = 1.0); concat; 1x1 ``Conv`` to ``c2``."""

    def __init__(self, c1: int, c2: int, n: int = 2, shortcut: bool = True, e: float = 0.5):
        super().__init__()
        hidden = int(c2 * e)
        self.cv1 = Conv(c1, hidden, 1)
        self.cv2 = Conv(c1, hidden, 1)
        self.cv3 = Conv(2 * hidden, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut, e=1.0) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class C3k2(nn.Module):
    """YOLO11's main block: 1x1 ``Conv`` to ``2c`` (``c = int(c2 * e)``), split in halves; the second
    half runs through ``n`` sequential inner blocks (``C3k(c, c, 2)`` if ``c3k`` else
    ``Bottleneck(c, c, e=0.5)``), keeping every intermediate output; concat ``(2 + n) c`` channels ->
    1x1 ``Conv`` to ``c2``. ``(N, c1, H, W) -> (N, c2, H, W)``."""

    def __init__(
        self, c1: int, c2: int, n: int = 1, c3k: bool = False, e: float = 0.5, shortcut: bool = True
    ):
        super().__init__()
        self.c = int(c2 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(
            C3k(self.c, self.c, 2, shortcut) if c3k else Bottleneck(self.c, self.c, shortcut)
            for _ in range(n)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = list(self.cv1(x).chunk(2, 1))
        for block in self.m:
            outputs.append(block(outputs[-1]))
        return self.cv2(torch.cat(outputs, 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: 1x1 ``Conv`` to ``c1 / 2``; three chained ``k x k`` stride-1
    max-pools; concat the four maps; 1x1 ``Conv`` to ``c2``. Keeps H and W."""

    def __init__(self, c1: int, c2: int, k: int = 5):
        super().__init__()
        hidden = c1 // 2
        self.cv1 = Conv(c1, hidden, 1)
        self.cv2 = Conv(4 * hidden, c2, 1)
        self.pool = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [self.cv1(x)]
        for _ in range(3):
            outputs.append(self.pool(outputs[-1]))
        return self.cv2(torch.cat(outputs, 1))


class Attention(nn.Module):
    """Multi-head self-attention over all H*W positions, with a 3x3 depthwise positional conv on v.

    ``heads = dim / 64`` (at least 1), ``key_dim = head_dim * attn_ratio``; q, k, v come from one 1x1
    ``Conv`` without activation; the output is ``proj(attn(v) + pe(v))``.
    """

    def __init__(self, dim: int, num_heads: int, attn_ratio: float = 0.5):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.key_dim = int(self.head_dim * attn_ratio)
        self.scale = self.key_dim**-0.5
        self.qkv = Conv(dim, dim + 2 * self.key_dim * num_heads, 1, act=False)
        self.proj = Conv(dim, dim, 1, act=False)
        self.pe = Conv(dim, dim, 3, groups=dim, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        qkv = self.qkv(x).view(n, self.num_heads, 2 * self.key_dim + self.head_dim, h * w)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.head_dim], dim=2)
        attn = (q.transpose(-2, -1) @ k * self.scale).softmax(dim=-1)  # (n, heads, hw, hw)
        out = (v @ attn.transpose(-2, -1)).view(n, c, h, w)
        return self.proj(out + self.pe(v.reshape(n, c, h, w)))


class PSABlock(nn.Module):
    """``x += Attention(x); x += FFN(x)`` with FFN = 1x1 ``Conv`` to 2c (SiLU) -> 1x1 ``Conv`` back."""

    def __init__(self, c: int, attn_ratio: float = 0.5, num_heads: int = 4):
        super().__init__()
        self.attn = Attention(c, num_heads, attn_ratio)
        self.ffn = nn.Sequential(Conv(c, 2 * c, 1), Conv(2 * c, c, 1, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.ffn(x)


class C2PSA(nn.Module):
    """CSP wrapper around ``n`` PSA blocks: 1x1 ``Conv`` to ``2 c'`` (``c' = c * e``), split; one half
    through the PSA blocks; concat; 1x1 ``Conv``. ``(N, c1, H, W) -> (N, c2, H, W)``, ``c1 == c2``."""

    def __init__(self, c1: int, c2: int, n: int = 1, e: float = 0.5):
        super().__init__()
        if c1 != c2:
            raise ValueError(f"C2PSA keeps the channel count, got c1={c1} != c2={c2}")
        self.c = int(c1 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv(2 * self.c, c1, 1)
        heads = max(self.c // 64, 1)
        self.m = nn.Sequential(*(PSABlock(self.c, attn_ratio=0.5, num_heads=heads) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.cv1(x).chunk(2, 1)
        return self.cv2(torch.cat((a, self.m(b)), 1))
