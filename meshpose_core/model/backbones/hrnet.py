"""MeshPose-L backbone: HRNet-W32 (Sun et al. 2019) with an all-branch stride-4 fusion.

Four stages keep a stride-4 branch throughout and add 2x coarser branches (32/64/128/256
channels for W32) that exchange information at the end of every module. Instead of reading
only the high-resolution branch, every branch is projected to ``out_channels`` (1x1 conv +
BN + ReLU), bilinearly upsampled to stride 4 and summed, so the coarse, context-rich
branches feed the per-vertex score maps directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..conv_blocks import ConvBNAct, init_weights
from .blocks import BasicBlock, Bottleneck, make_stage
from .decoder import upsample_to


@dataclass(frozen=True)
class HRNetConfig:
    """width: channels of the stride-4 branch (W32 -> 32/64/128/256).

    modules: HR modules in stages 2-4 (HRNet: 1, 4, 3); blocks: BasicBlocks per branch in
    every module; stage1_blocks: bottlenecks of stage 1; out_channels: fused output width.
    """

    width: int = 32
    modules: tuple[int, int, int] = (1, 4, 3)
    blocks: int = 4
    stage1_blocks: int = 4
    out_channels: int = 256


class HRModule(nn.Module):
    """Parallel branches of BasicBlocks followed by all-to-all multi-resolution fusion.

    Branch i is (B, channels[i], H / 2^i, W / 2^i) in and out.
    """

    def __init__(self, channels: Sequence[int], num_blocks: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(make_stage(BasicBlock, c, c, num_blocks) for c in channels)
        self.fuse = nn.ModuleList(
            nn.ModuleList(self._fuse_path(channels, src, dst) for src in range(len(channels)))
            for dst in range(len(channels))
        )
        self.act = nn.ReLU(inplace=True)

    @staticmethod
    def _fuse_path(channels: Sequence[int], src: int, dst: int) -> nn.Module:
        """Branch src -> branch dst: strided 3x3 convs down from a finer source, or a 1x1 conv
        whose output forward() upsamples bilinearly from a coarser one (HRNet: nearest)."""
        if src == dst:
            return nn.Identity()
        if src > dst:
            return ConvBNAct(channels[src], channels[dst], 1, act="none")
        steps = [ConvBNAct(channels[src], channels[src], 3, 2) for _ in range(dst - src - 1)]
        steps.append(ConvBNAct(channels[src], channels[dst], 3, 2, act="none"))
        return nn.Sequential(*steps)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """xs[i] (B, C_i, H / 2^i, W / 2^i), C_i = channels[i] -> the fused branches, same
        shapes."""
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        out: list[torch.Tensor] = []
        for dst, paths in enumerate(self.fuse):
            total = xs[dst]
            for src, path in enumerate(paths):
                if src < dst:
                    total = total + path(xs[src])
                elif src > dst:
                    total = total + upsample_to(path(xs[src]), xs[dst])
            out.append(self.act(total))
        return out


def _transition(prev: Sequence[int], new: Sequence[int]) -> nn.ModuleList:
    """Adapt existing branches' widths and spawn the next coarser branch from the last one."""
    paths: list[nn.Module] = []
    for i, c in enumerate(new):
        if i < len(prev):
            paths.append(nn.Identity() if prev[i] == c else ConvBNAct(prev[i], c, 3))
        else:
            paths.append(ConvBNAct(prev[-1], c, 3, stride=2))
    return nn.ModuleList(paths)


class HRNetBackbone(nn.Module):
    """(B, 3, H, W) -> (B, out_channels, H/4, W/4); H, W multiples of 32."""

    stride = 4

    def __init__(self, cfg: HRNetConfig) -> None:
        super().__init__()
        self.stem = nn.Sequential(ConvBNAct(3, 64, 3, 2), ConvBNAct(64, 64, 3, 2))
        self.stage1 = make_stage(Bottleneck, 64, 64, cfg.stage1_blocks)
        channels: list[int] = [64 * Bottleneck.expansion]
        transitions, stages = [], []
        for num_branches, num_modules in enumerate(cfg.modules, start=2):
            new = [cfg.width * 2**i for i in range(num_branches)]
            transitions.append(_transition(channels, new))
            stages.append(nn.Sequential(*(HRModule(new, cfg.blocks) for _ in range(num_modules))))
            channels = new
        self.transitions = nn.ModuleList(transitions)
        self.stages = nn.ModuleList(stages)
        self.project = nn.ModuleList(ConvBNAct(c, cfg.out_channels, 1) for c in channels)
        self.out_channels = cfg.out_channels
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xs = [self.stage1(self.stem(x))]
        for transition, stage in zip(self.transitions, self.stages, strict=True):
            # New branches come from the coarsest existing one; the rest map one to one.
            xs = [path(xs[min(i, len(xs) - 1)]) for i, path in enumerate(transition)]
            xs = stage(xs)
        fused = self.project[0](xs[0])
        for proj, feat in zip(self.project[1:], xs[1:], strict=True):
            fused = fused + upsample_to(proj(feat), fused)
        return fused
