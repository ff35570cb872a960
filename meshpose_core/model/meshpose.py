"""MeshPoseNet: backbone + VertexPose head + regression head, and their decoding to a mesh.

``forward`` returns raw tensors only, ``RawOutputs`` (what losses and an ONNX export need,
no data-dependent Python control flow); ``decode`` turns them into a ``DecodedMesh``:
crop-pixel vertices, visibility and optionally dense IUV, differentiably (training losses
read its outputs too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import nn

from ..topology import Topology
from ..topology.outline import GROUP_NAMES as OUTLINE_GROUPS
from .backbones import build_backbone
from .config import config_replace
from .decoding import (
    UV_DECODERS,
    TopologyArrays,
    UVDecoder,
    argsoftmax_1d,
    bin_ranges,
    decode_iuv,
    facing_camera,
    fuse_visibility,
    spatial_argsoftmax,
    vertex_face_table,
)
from .heads import RegressionHead, RegressionHeadConfig, VertexPoseHead, VertexPoseHeadConfig
from .lifter import KeypointLifter
from .outputs import DecodedMesh, RawOutputs

# Expected input normalisation: RGB in [0, 1], then (x - mean) / std per channel (ImageNet).
IMAGE_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGE_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
# the same as tensors, made once: a tracer records them without warning
_CHANNELS = {
    "mean": torch.tensor(IMAGE_MEAN).view(1, 1, 1, 3),
    "std": torch.tensor(IMAGE_STD).view(1, 1, 1, 3),
}


def normalise_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) float RGB pixels 0..255 -> (B, 3, H, W) normalised for the network (the
    PyTorch path and the exported graphs alike)."""
    mean, std = (_CHANNELS[k].to(pixels) for k in ("mean", "std"))
    # normalised before the layout change: a converter to NHWC then keeps no transpose
    return ((pixels * (1.0 / 255.0) - mean) / std).permute(0, 3, 1, 2)


# Size variants of the paper: name -> (backbone, input (height, width), VertexPose head
# width, spatial softmax beta). XS takes 192x192 crops to stay near 15 ms on two CPU cores
# (see backbones/mobilenet.py).
_PRESETS: Mapping[str, tuple[str, tuple[int, int], int, float]] = MappingProxyType(
    {
        "l": ("hrnet_w32", (256, 256), 256, 1.0),
        "s": ("resnet50", (256, 256), 128, 1.0),
        "xs": ("mobilenet_v2", (192, 192), 96, 1.0),
        # XS-sized, on MediaPipe BlazePose-full's pose features and heatmap prior
        # (Apache-2.0); beta: the sharpness at which BlazePose's heatmap logits localise best
        "xs_bp": ("blazepose_full", (192, 192), 96, 16.0),
    }
)
INPUT_MULTIPLE = 32
# Initial visibility logit with a VertexPose prior: w = 0.95, the fused XY is the prior's.
PRIOR_VISIBILITY_LOGIT = 3.0  # HRNet's coarsest branch is stride 32


@dataclass(frozen=True)
class MeshPoseConfig:
    """Everything that defines a MeshPoseNet; ``MeshPoseConfig.preset("xs")`` for the paper's
    variants. backbone_kwargs override fields of the backbone's config dataclass."""

    backbone: str = "mobilenet_v2"
    backbone_kwargs: Mapping[str, Any] = field(default_factory=dict)
    input_size: tuple[int, int] = (192, 192)
    num_vertices: int = 518
    vertex_head: VertexPoseHeadConfig = field(default_factory=VertexPoseHeadConfig)
    regression_head: RegressionHeadConfig = field(default_factory=RegressionHeadConfig)
    uv_decoder: UVDecoder = "barycentric"
    # gain on a visibility logit from the 2D mesh's own winding (``decoding.facing_camera``,
    # computed on the VertexPose XY): with the anchor prior the projected mesh knows which
    # way the body faces, which the pooled features had not learned; 0 turns it off
    facing_gain: float = 0.0
    # per ``topology.outline.GROUP_NAMES``: how far the predicted body is widened about each
    # part's bone to the outline people show (clothes, hair), fitted to real people's masks
    # by tools/fit_outline_margin.py; () keeps the body. Applied after the network, by the
    # predictors' finishing step (``predictor.base.Finisher``), never in training
    outline_scales: tuple[float, ...] = ()
    # hidden width of the keypoint lifter (``lifter.KeypointLifter``: an MLP from the
    # backbone's decoded keypoints to every vertex in 3D, fitted on real body fits by
    # tools/fit_vertex_prior.py --lifter); when set it places the VertexPose anchors and
    # gives the regressed XY and the depth. 0: none (the affine anchor prior, the regression
    # branch's depth)
    lifter_width: int = 0

    def __post_init__(self) -> None:
        if len(self.outline_scales) not in (0, len(OUTLINE_GROUPS)):
            raise ValueError(
                f"outline_scales needs one scale per group {OUTLINE_GROUPS} (or none), got "
                f"{self.outline_scales}"
            )
        object.__setattr__(self, "outline_scales", tuple(float(s) for s in self.outline_scales))
        if any(s % INPUT_MULTIPLE for s in self.input_size):
            raise ValueError(f"input_size {self.input_size} must be multiples of {INPUT_MULTIPLE}")
        if self.uv_decoder not in UV_DECODERS:
            raise ValueError(f"unknown uv_decoder {self.uv_decoder!r}; choose one of {UV_DECODERS}")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> MeshPoseConfig:
        """MeshPose-L ("l", HRNet-W32), -S ("s", ResNet-50) or -XS ("xs", MobileNetV2 x1.4);
        ``overrides`` as in ``from_dict`` (nested dicts override single head fields)."""
        key = name.lower()
        if key not in _PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(_PRESETS)}")
        backbone, input_size, head_width, beta = _PRESETS[key]
        head = VertexPoseHeadConfig(head_width, beta=beta)
        base = cls(backbone, input_size=input_size, vertex_head=head)
        return config_replace(base, overrides)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (tuples become lists when serialised)."""
        d = dataclasses.asdict(self)
        d["backbone_kwargs"] = dict(self.backbone_kwargs)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MeshPoseConfig:
        """Inverse of ``to_dict``; missing keys keep their defaults."""
        return config_replace(cls(), d)


class MeshPoseNet(nn.Module):
    """images (B, 3, H, W), normalised with IMAGE_MEAN / IMAGE_STD -> raw head outputs."""

    def __init__(self, cfg: MeshPoseConfig, init_prior: bool = True) -> None:
        """init_prior: set a backbone's keypoint prior (read from its file) in the heads; a
        checkpoint loader passes False, the prior buffers come with the weights."""
        super().__init__()
        self.cfg = cfg
        self.backbone = build_backbone(cfg.backbone, **cfg.backbone_kwargs)
        channels = self.backbone.out_channels
        prior_channels = getattr(self.backbone, "prior_channels", 0)
        self.regression_head = RegressionHead(
            channels - prior_channels,
            cfg.num_vertices,
            cfg.regression_head,
            getattr(self.backbone, "pooled_channels", 0),
        )
        self.vertex_head = VertexPoseHead(
            channels, cfg.num_vertices, cfg.vertex_head, prior_channels
        )
        if prior_channels and init_prior and self.set_priors():
            self.regression_head.set_visibility_bias(PRIOR_VISIBILITY_LOGIT)
        self.lifter = None
        if cfg.lifter_width:
            if not prior_channels or cfg.vertex_head.prior_kind != "anchor":
                raise ValueError(
                    "a keypoint lifter needs keypoints and the anchor prior it snaps with, "
                    f"not {cfg.backbone} with the {cfg.vertex_head.prior_kind} prior"
                )
            self.lifter = KeypointLifter(prior_channels, cfg.num_vertices, cfg.lifter_width)
        if cfg.facing_gain:
            faces = Topology.load("low").faces.astype(np.int64)
            table, weights = vertex_face_table(faces, cfg.num_vertices)
            # fixed by the topology, not weights: rebuilt at load, not saved
            self.register_buffer("faces", torch.from_numpy(faces), persistent=False)
            self.register_buffer("vertex_faces", torch.from_numpy(table), persistent=False)
            self.register_buffer("vertex_face_weights", torch.from_numpy(weights), persistent=False)

    @torch.no_grad()
    def set_priors(self) -> bool:
        """(Re)set both heads' keypoint priors from the backbone's prior file of this
        config's kind (the learned VertexPose score rows restart at zero: they were residuals
        on the old prior). Returns whether the backbone has such a prior."""
        cfg = self.cfg
        prior = self.backbone.vertex_prior(cfg.num_vertices, cfg.vertex_head.prior_kind)
        if prior is None:
            return False
        self.vertex_head.set_prior(prior)
        h, w = cfg.input_size
        self.regression_head.set_keypoint_prior(prior, bin_ranges(w, h), (h, w))
        return True

    @torch.no_grad()
    def freeze_xy_residuals(self) -> None:
        """Keep vertex XY exactly the prior's: zero the learned XY rows of both heads and mask
        their gradients (depth, visibility and the foreground logit still learn). For a prior
        (``xs_bp``) that real-image labels rate better than what our data teaches."""
        masks = {**self.vertex_head.xy_masks(), **self.regression_head.xy_masks()}
        if self.lifter is not None:  # fitted offline, like the priors
            self.lifter.requires_grad_(False)
        for param, mask in masks.items():
            param.mul_(mask)
            param.register_hook(lambda grad, mask=mask: grad * mask)

    @property
    def stride(self) -> int:
        return self.backbone.stride

    def forward(self, images: torch.Tensor) -> RawOutputs:
        """(B, 3, H, W) normalised images -> ``RawOutputs`` (shapes there)."""
        features = self.backbone(images)
        pooled_extra = None
        if isinstance(features, tuple):  # backbones with a global summary (BlazePose)
            features, pooled_extra = features
        lifted = None
        if self.lifter is not None:
            mix = self.vertex_head.prior_weight.flatten(1)  # the anchor prior's (V, K)
            lifted = self.lifter(pooled_extra, tuple(images.shape[-2:]), mix)
        anchors = None if lifted is None else lifted[..., :2]
        scores, fg_logit = self.vertex_head(features, pooled_extra, anchors)
        reg = self.regression_head(features, pooled_extra)
        return RawOutputs(scores, fg_logit, **reg, lifted=lifted)

    def decode(
        self,
        outputs: RawOutputs,
        topology: TopologyArrays | None = None,
        want_iuv: bool = False,
    ) -> DecodedMesh:
        """Raw outputs -> crop-pixel geometry (``DecodedMesh``, same pixel convention as
        ``decoding``); its iuv only if want_iuv (needs ``topology``)."""
        scores = outputs.scores
        h, w = scores.shape[-2:]
        ranges = bin_ranges(w * self.stride, h * self.stride)
        xy_vp = spatial_argsoftmax(scores, self.vertex_head.beta, self.stride)
        if outputs.lifted is not None:  # the keypoint lifter's vertices
            xy_reg, z = outputs.lifted[..., :2], outputs.lifted[..., 2]
        else:
            xy_reg = torch.stack(
                (
                    argsoftmax_1d(outputs.x_logits, *ranges["x"]),
                    argsoftmax_1d(outputs.y_logits, *ranges["y"]),
                ),
                dim=-1,
            )
            z = argsoftmax_1d(outputs.z_logits, *ranges["z"])
        # with a lifter both branches place a vertex where the lifter does (the VertexPose
        # bumps sit there), except that the spatial argsoftmax cannot leave the crop: a
        # person the crop cuts would be squashed against its border, so the lifter's XY is
        # the mesh's (and an exported graph then skips the score maps unless IUV is wanted)
        placed = xy_vp if outputs.lifted is None else xy_reg
        vis_logit = outputs.vis_logit
        if self.cfg.facing_gain:
            facing = facing_camera(placed, self.faces, self.vertex_faces, self.vertex_face_weights)
            vis_logit = vis_logit + self.cfg.facing_gain * facing
        visibility = torch.sigmoid(vis_logit)
        xy = fuse_visibility(xy_vp, xy_reg, visibility) if outputs.lifted is None else xy_reg
        iuv = None
        if want_iuv:
            if topology is None:
                raise ValueError("want_iuv=True needs the topology arrays")
            if self.vertex_head.prior_kind == "anchor":
                # occluded vertices leave each pixel's competition over vertices (a per-vertex
                # shift: the spatial softmax, i.e. XY, is unchanged); the anchor bumps alone
                # know nothing of depth order
                scores = scores + nn.functional.logsigmoid(vis_logit)[..., None, None]
            iuv = decode_iuv(scores, outputs.fg_logit, topology, self.cfg.uv_decoder)
        return DecodedMesh(
            vertices=torch.cat((xy, z.unsqueeze(-1)), dim=-1),
            visibility=visibility,
            vis_logit=vis_logit,
            xy_vertexpose=xy_vp,
            xy_regressed=xy_reg,
            foreground=torch.sigmoid(outputs.fg_logit[:, 0]),
            iuv=iuv,
        )

    def predict(
        self,
        images: torch.Tensor,
        topology: TopologyArrays | None = None,
        want_iuv: bool = False,
    ) -> DecodedMesh:
        """forward + decode in one call (inference convenience): images (B, 3, H, W)
        normalised -> ``DecodedMesh`` (vertices (B, V, 3) crop px, ...)."""
        return self.decode(self(images), topology, want_iuv)
