"""The two MeshPose heads on the shared stride-4 features.

VertexPose: one score map per vertex (localised, accurate for visible vertices) plus a
foreground logit for IUV output. Regression: global per-vertex 1D bin classification of
x, y and z (works for occluded and out-of-crop vertices, and gives depth and visibility).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .layers import conv_block, init_weights


@dataclass(frozen=True)
class VertexPoseHeadConfig:
    """width/num_convs: 3x3 blocks (separable or dense) before the 1x1 score layer
    (num_convs=0: the score layer reads the backbone features directly); beta: softmax
    sharpening of the spatial argsoftmax, learned (in log space) if learn_beta."""

    width: int = 128
    num_convs: int = 1
    separable: bool = True
    beta: float = 1.0
    learn_beta: bool = False


@dataclass(frozen=True)
class RegressionHeadConfig:
    """bins: C', the number of 1D bins per axis."""

    bins: int = 64


class VertexPoseHead(nn.Module):
    """(B, C, h, w) -> scores (B, V, h, w), fg_logit (B, 1, h, w)."""

    def __init__(self, in_channels: int, num_vertices: int, cfg: VertexPoseHeadConfig) -> None:
        super().__init__()
        if cfg.beta <= 0:
            raise ValueError(f"beta must be positive, got {cfg.beta}")
        blocks, ch = [], in_channels
        for _ in range(cfg.num_convs):
            blocks.append(conv_block(ch, cfg.width, cfg.separable))
            ch = cfg.width
        self.body = nn.Sequential(*blocks)
        self.out = nn.Conv2d(ch, num_vertices + 1, 1)  # V score maps + 1 foreground logit
        self.num_vertices = num_vertices
        log_beta = torch.tensor(math.log(cfg.beta))
        if cfg.learn_beta:
            self.log_beta = nn.Parameter(log_beta)
        else:
            self.register_buffer("log_beta", log_beta)
        init_weights(self)

    @property
    def beta(self) -> torch.Tensor:
        """Scalar tensor; exp of a log parameter keeps it positive while learning."""
        return self.log_beta.exp()

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Score maps in NCHW even in a channels_last model: the spatial softmax then reads
        # each map contiguously (XS, 2 CPU cores: ~0.8 ms instead of ~4.5 ms of decoding).
        out = self.out(self.body(features)).contiguous()
        return out[:, : self.num_vertices], out[:, self.num_vertices :]


class RegressionHead(nn.Module):
    """Global per-vertex bin logits for x, y, z and a visibility logit.

    features (B, C, h, w) -> average pool (B, C) -> per axis i:
      psi_i: Linear(C, C * C') viewed as (B, C, C') and ReLU. This is exactly the paper's
        1D conv expanding C x 1 to C x C' (a ConvTranspose1d(C, C, kernel C') on a length-1
        input is a dense C -> C*C' map); the ReLU makes psi then f1D a two-layer MLP
        instead of one factorised linear map.
      f1D_i: Conv1d(C, V, kernel 1) over the C' bins -> logits (B, V, C').
    The three axes run as one Linear and one grouped Conv1d (groups=3).

    Visibility logit (B, V): the mean of the z logits over the C' bins. A per-vertex shift
    of the logits leaves the z softmax unchanged, so this mean is a free degree of freedom
    the visibility loss can use without disturbing depth ("mean of the z features").
    """

    def __init__(self, in_channels: int, num_vertices: int, cfg: RegressionHeadConfig) -> None:
        super().__init__()
        c, self.bins, self.num_vertices = in_channels, cfg.bins, num_vertices
        self.psi = nn.Linear(c, 3 * c * cfg.bins)
        self.act = nn.ReLU(inplace=True)
        self.f1d = nn.Conv1d(3 * c, 3 * num_vertices, kernel_size=1, groups=3)
        init_weights(self)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = features.mean(dim=(2, 3))  # (B, C)
        b = pooled.shape[0]
        expanded = self.act(self.psi(pooled)).reshape(b, -1, self.bins)  # (B, 3C, C')
        logits = self.f1d(expanded).reshape(b, 3, self.num_vertices, self.bins)
        z_logits = logits[:, 2]
        return {
            "x_logits": logits[:, 0],
            "y_logits": logits[:, 1],
            "z_logits": z_logits,
            "vis_logit": z_logits.mean(dim=-1),
        }
