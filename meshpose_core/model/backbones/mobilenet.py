"""MeshPose-XS backbone: MobileNetV2 x1.4 (Sandler et al. 2018), dilated tail, skip decoder.

The CPU real-time model. Its default input is a 192x192 crop: at stride 4 that is a 48x48
score grid, about 0.73x the work of 224 and 0.56x of 256 for every layer, which is what brings
network + decoding near 15 ms per crop on two CPU cores, while 48x48 still gives 4 px cells
on a ~190 px tall person. The last two stages (160 and 320 channels at width 1.0) are dilated
instead of strided, so the encoder stops at stride 16.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..conv_blocks import ConvBNAct, init_weights
from .decoder import DecoderConfig, SkipDecoder

# (expansion t, channels c at width 1.0, repeats n, stride s) from the MobileNetV2 paper.
_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a scaled width to a multiple of ``divisor`` without losing more than 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@dataclass(frozen=True)
class MobileNetConfig:
    """width: channel multiplier (1.4 for MeshPose-XS); output_stride 16 or 32."""

    width: float = 1.4
    output_stride: int = 16
    decoder: DecoderConfig = field(default_factory=lambda: DecoderConfig(channels=96))


class InvertedResidual(nn.Module):
    """1x1 expand (ReLU6) -> 3x3 depthwise (ReLU6) -> 1x1 linear project, residual if shapes match.

    (B, in_ch, H, W) -> (B, out_ch, H / stride, W / stride).
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand: int, dilation: int = 1):
        super().__init__()
        hidden = in_ch * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNAct(in_ch, hidden, 1, act="relu6"))
        layers += [
            ConvBNAct(hidden, hidden, 3, stride, dilation, groups=hidden, act="relu6"),
            ConvBNAct(hidden, out_ch, 1, act="none"),
        ]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV2Backbone(nn.Module):
    """(B, 3, H, W) -> (B, decoder.channels, H/4, W/4); H, W multiples of 16.

    The final 1x1 conv to 1280 x width channels of the classifier is dropped: the decoder
    consumes the 320 x width features directly.
    """

    stride = 4

    def __init__(self, cfg: MobileNetConfig) -> None:
        super().__init__()
        if cfg.output_stride not in (16, 32):
            raise ValueError(f"output_stride must be 16 or 32, got {cfg.output_stride}")
        in_ch = make_divisible(32 * cfg.width)
        self.stem = ConvBNAct(3, in_ch, 3, stride=2, act="relu6")
        stages: list[nn.Module] = []
        stage_channels: list[int] = []
        stage_strides: list[int] = []
        current_stride, dilation = 2, 1
        for t, c, n, s in _SETTINGS:
            out_ch = make_divisible(c * cfg.width)
            stride = s
            if current_stride * s > cfg.output_stride:  # dilate instead of striding
                stride, dilation = 1, dilation * s
            current_stride *= stride
            blocks = [InvertedResidual(in_ch, out_ch, stride, t, dilation)]
            blocks += [InvertedResidual(out_ch, out_ch, 1, t, dilation) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            stage_channels.append(out_ch)
            stage_strides.append(current_stride)
            in_ch = out_ch
        self.stages = nn.ModuleList(stages)
        # Decoder taps: the last stage at stride 4, the last at stride 8, the encoder's end.
        self._taps = (
            max(i for i, st in enumerate(stage_strides) if st == 4),
            max(i for i, st in enumerate(stage_strides) if st == 8),
            len(stages) - 1,
        )
        self.decoder = SkipDecoder(tuple(stage_channels[i] for i in self._taps), cfg.decoder)
        self.out_channels = self.decoder.out_channels
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        taps: list[torch.Tensor] = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self._taps:
                taps.append(x)
        return self.decoder(taps)
