"""MeshPose-S backbone: ResNet-50 with a dilated last stage (output stride 16) + skip decoder.

Dilating layer4 instead of striding keeps a 16x16 grid at 256 px input for the global
regression head while the decoder restores stride 4 for the VertexPose score maps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..conv_blocks import ConvBNAct, init_weights
from .blocks import Bottleneck, make_stage
from .decoder import DecoderConfig, SkipDecoder


@dataclass(frozen=True)
class ResNetConfig:
    """depths: bottleneck blocks per stage (ResNet-50: 3, 4, 6, 3); base width 64."""

    depths: tuple[int, int, int, int] = (3, 4, 6, 3)
    width: int = 64
    decoder: DecoderConfig = field(default_factory=lambda: DecoderConfig(channels=128))


class ResNetBackbone(nn.Module):
    """(B, 3, H, W) -> (B, decoder.channels, H/4, W/4); H, W multiples of 16."""

    stride = 4

    def __init__(self, cfg: ResNetConfig) -> None:
        super().__init__()
        w = cfg.width
        self.stem = nn.Sequential(
            ConvBNAct(3, w, 7, stride=2), nn.MaxPool2d(3, stride=2, padding=1)
        )
        e = Bottleneck.expansion
        self.layer1 = make_stage(Bottleneck, w, w, cfg.depths[0])  # stride 4
        self.layer2 = make_stage(Bottleneck, w * e, 2 * w, cfg.depths[1], stride=2)  # 8
        self.layer3 = make_stage(Bottleneck, 2 * w * e, 4 * w, cfg.depths[2], stride=2)  # 16
        self.layer4 = make_stage(  # stride 16, dilation 2 instead of stride 32
            Bottleneck, 4 * w * e, 8 * w, cfg.depths[3], dilation=2, first_dilation=1
        )
        self.decoder = SkipDecoder((w * e, 2 * w * e, 8 * w * e), cfg.decoder)
        self.out_channels = self.decoder.out_channels
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c4 = self.layer1(self.stem(x))
        c8 = self.layer2(c4)
        c16 = self.layer4(self.layer3(c8))
        return self.decoder((c4, c8, c16))
