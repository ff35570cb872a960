"""Residual blocks shared by ResNet and HRNet (He et al. 2016; v1.5: stride in the 3x3)."""

from __future__ import annotations

import torch
from torch import nn

from ..conv_blocks import ConvBNAct


def _shortcut(in_ch: int, out_ch: int, stride: int) -> nn.Module:
    """Identity when shapes match, else a strided 1x1 projection (no activation)."""
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    return ConvBNAct(in_ch, out_ch, 1, stride, act="none")


class BasicBlock(nn.Module):
    """Two 3x3 convs + shortcut: (B, in_ch, H, W) -> (B, planes, H / stride, W / stride)."""

    expansion = 1

    def __init__(self, in_ch: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(in_ch, planes, 3, stride, dilation)
        self.conv2 = ConvBNAct(planes, planes, 3, dilation=dilation, act="none")
        self.shortcut = _shortcut(in_ch, planes, stride)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv2(self.conv1(x)) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided/dilated), 1x1 expand x4 + shortcut.

    (B, in_ch, H, W) -> (B, 4 * planes, H / stride, W / stride).
    """

    expansion = 4

    def __init__(self, in_ch: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        out_ch = planes * self.expansion
        self.conv1 = ConvBNAct(in_ch, planes, 1)
        self.conv2 = ConvBNAct(planes, planes, 3, stride, dilation)
        self.conv3 = ConvBNAct(planes, out_ch, 1, act="none")
        self.shortcut = _shortcut(in_ch, out_ch, stride)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv3(self.conv2(self.conv1(x))) + self.shortcut(x))


def make_stage(
    block: type[BasicBlock] | type[Bottleneck],
    in_ch: int,
    planes: int,
    num_blocks: int,
    stride: int = 1,
    dilation: int = 1,
    first_dilation: int | None = None,
) -> nn.Sequential:
    """``num_blocks`` blocks; only the first may stride / change width.

    ``first_dilation`` (default ``dilation``) lets a dilated stage start with the previous
    stage's dilation, as torchvision's ``replace_stride_with_dilation`` does.
    """
    first = block(in_ch, planes, stride, dilation if first_dilation is None else first_dilation)
    out_ch = planes * block.expansion
    rest = [block(out_ch, planes, 1, dilation) for _ in range(num_blocks - 1)]
    return nn.Sequential(first, *rest)
