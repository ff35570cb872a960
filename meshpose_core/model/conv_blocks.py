"""Small convolutional building blocks shared by the backbones, the decoder and the heads.

Keeping conv + BatchNorm + activation in one nn.Sequential lets the inference path fold the
norm into the convolution (``inference.fold_batchnorm``) without touching the architectures.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

Activation = Literal["relu", "relu6", "none"]


def make_activation(name: Activation) -> nn.Module:
    """The activation module for a config name ("none" gives the identity)."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "relu6":
        return nn.ReLU6(inplace=True)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {name!r}; choose relu, relu6 or none")


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d -> activation; 'same' padding for odd kernels.

    (B, in_ch, H, W) -> (B, out_ch, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 3,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        act: Activation = "relu",
    ) -> None:
        padding = dilation * (kernel - 1) // 2
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, stride, padding, dilation, groups, bias=False),
            nn.BatchNorm2d(out_ch),
            make_activation(act),
        )


class SeparableConv(nn.Sequential):
    """Depthwise 3x3 + pointwise 1x1, each with BN and activation (MobileNet style).

    About kernel^2 / out_ch + 1 times cheaper than a dense 3x3 at equal width, which is what
    keeps the decoder and heads affordable at stride 4 on a CPU.
    (B, in_ch, H, W) -> (B, out_ch, H, W).
    """

    def __init__(self, in_ch: int, out_ch: int, dilation: int = 1, act: Activation = "relu"):
        super().__init__(
            ConvBNAct(in_ch, in_ch, 3, dilation=dilation, groups=in_ch, act=act),
            ConvBNAct(in_ch, out_ch, 1, act=act),
        )


def conv_block(in_ch: int, out_ch: int, separable: bool, act: Activation = "relu") -> nn.Module:
    """A 3x3 feature block, separable or dense: (B, in_ch, H, W) -> (B, out_ch, H, W)."""
    if separable:
        return SeparableConv(in_ch, out_ch, act=act)
    return ConvBNAct(in_ch, out_ch, 3, act=act)


def init_weights(module: nn.Module) -> None:
    """He-normal convolutions, unit BatchNorm, small linear layers: a from-scratch default."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Conv1d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
