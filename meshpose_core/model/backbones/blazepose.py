"""MediaPipe BlazePose-full's encoder-decoder as a MeshPose backbone (pretrained features).

No ImageNet weights can be downloaded, but BlazePose's landmark network (Apache-2.0, shipped
converted in ``weights/blazepose_full_backbone.*``) was trained on large real pose data and
reaches stride 4 (its heatmap input). Its 48-channel stride-4 map, projected to the head
width, feeds the MeshPose heads; fine-tuning starts from real-image pose features instead of
from scratch, which our compute could not match.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..blazepose_net import BlazePoseNet
from ..layers import conv_block

# MeshPoseNet feeds ImageNet-normalised images; BlazePose wants RGB in [0, 1].
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BlazePoseBackboneConfig:
    """out_channels: width of the projected stride-4 features handed to the heads."""

    out_channels: int = 96


class BlazePoseBackbone(nn.Module):
    """(B, 3, H, W) ImageNet-normalised -> (B, out_channels, H/4, W/4); H, W multiples of 32."""

    stride = 4

    def __init__(self, cfg: BlazePoseBackboneConfig) -> None:
        super().__init__()
        self.net = BlazePoseNet.from_files(outputs=("features_s4",))
        self.project = conv_block(self.net.channels["features_s4"], cfg.out_channels, False)
        self.out_channels = cfg.out_channels
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.net(x * self.std + self.mean)["features_s4"])
