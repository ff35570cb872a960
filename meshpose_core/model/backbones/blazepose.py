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
from ..conv_blocks import conv_block
from ..decoding import spatial_argsoftmax
from ..vertex_prior import DEFAULT_ANCHOR_PATH, DEFAULT_PRIOR_PATH, load_prior

# MeshPoseNet feeds ImageNet-normalised images; BlazePose wants RGB in [0, 1].
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BlazePoseBackboneConfig:
    """out_channels: width of the projected stride-4 features handed to the heads;
    heatmaps: also hand over BlazePose's 39 landmark heatmap logits (the last channels) for
    the VertexPose prior (see ``vertex_prior``) and their soft-argmax keypoints, taken at
    ``heatmap_scale`` x the logits (at 192 px, 16 localised best of 4, 8, 16 and 32; the
    VertexPose head sharpens its spatial softmax by the same factor, its ``beta``)."""

    out_channels: int = 96
    heatmaps: bool = True
    heatmap_scale: float = 16.0


class BlazePoseBackbone(nn.Module):
    """(B, 3, H, W) ImageNet-normalised -> (B, out_channels, H/4, W/4); H, W multiples of 32."""

    stride = 4

    def __init__(self, cfg: BlazePoseBackboneConfig) -> None:
        super().__init__()
        outputs = ("features_s4", "heatmap") if cfg.heatmaps else ("features_s4",)
        self.net = BlazePoseNet.from_files(outputs=outputs)
        self.project = conv_block(self.net.channels["features_s4"], cfg.out_channels, False)
        self.prior_channels = self.net.channels["heatmap"] if cfg.heatmaps else 0
        self.heatmap_scale = cfg.heatmap_scale
        self.out_channels = cfg.out_channels + self.prior_channels
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def pooled_channels(self) -> int:
        """Length of the extra global vector (x, y of every heatmap's soft-argmax)."""
        return 2 * self.prior_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """-> features (B, out_channels, H/4, W/4), or with heatmaps (features, keypoints
        (B, 2 * prior_channels)): each heatmap's expected (x, y) as a fraction of the crop
        size, a global summary the regression head pools alongside the averaged features
        (unit-scale, like them: Adam's per-weight steps then stay small against it)."""
        out = self.net(x * self.std + self.mean)
        features = self.project(out["features_s4"])
        if not self.prior_channels:
            return features
        heatmaps = out["heatmap"]
        size = torch.tensor([x.shape[-1], x.shape[-2]], dtype=x.dtype, device=x.device)
        keypoints = spatial_argsoftmax(heatmaps, self.heatmap_scale, self.stride) / size
        return torch.cat((features, heatmaps), dim=1), keypoints.flatten(1)

    def vertex_prior(self, num_vertices: int, kind: str = "mix") -> torch.Tensor | None:
        """(V, prior_channels) weights of the heatmap channels in each vertex's prior (see
        ``vertex_prior``; kind "mix" or "anchor"), or None (no heatmaps, or a vertex count
        the fitted prior does not cover)."""
        if not self.prior_channels:
            return None
        path = DEFAULT_ANCHOR_PATH if kind == "anchor" else DEFAULT_PRIOR_PATH
        prior = torch.from_numpy(load_prior(path))
        return prior if prior.shape == (num_vertices, self.prior_channels) else None
