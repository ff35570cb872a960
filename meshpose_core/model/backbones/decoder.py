"""The light skip decoder shared by MeshPose-S and -XS: stride 16 back to stride 4.

Each level: bilinear x2 upsample of the coarser result + a 1x1 projection of the encoder's
skip feature (added, not concatenated: same accuracy idea as DeepLabV3+'s decoder at a fraction
of the cost), then depthwise-separable 3x3 convs. Cost is dominated by the stride-4 level,
so ``channels`` is the knob for CPU latency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..conv_blocks import ConvBNAct, SeparableConv


@dataclass(frozen=True)
class DecoderConfig:
    """channels: decoder width (= backbone output channels); blocks: separable convs per level."""

    channels: int = 128
    blocks: int = 1


def upsample_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Bilinear resize (B, C, h, w) to ref's spatial size (align_corners=False)."""
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


class SkipDecoder(nn.Module):
    """Features fine -> coarse [(B, c_0, H/4, W/4), (B, c_1, H/8, ...), ...] -> (B, D, H/4, W/4)."""

    def __init__(self, in_channels: Sequence[int], cfg: DecoderConfig) -> None:
        super().__init__()
        d = cfg.channels
        self.out_channels = d
        self.proj = nn.ModuleList(ConvBNAct(c, d, 1) for c in in_channels)
        self.refine = nn.ModuleList(
            nn.Sequential(*(SeparableConv(d, d) for _ in range(cfg.blocks))) for _ in in_channels
        )

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        levels = len(self.proj)
        x = self.refine[-1](self.proj[-1](feats[-1]))
        for i in range(levels - 2, -1, -1):
            skip = self.proj[i](feats[i])
            x = self.refine[i](upsample_to(x, skip) + skip)
        return x
