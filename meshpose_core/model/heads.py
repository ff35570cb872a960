"""The two MeshPose heads on the shared stride-4 features.

VertexPose: one score map per vertex (localised, accurate for visible vertices) plus a
foreground logit for IUV output. Regression: global per-vertex 1D bin classification of
x, y and z (works for occluded and out-of-crop vertices, and gives depth and visibility).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import nn

from .conv_blocks import conv_block, init_weights
from .decoding import pixel_to_cell

FEATURE_STRIDE = 4  # both heads read the backbone's stride-4 map
PriorKind = Literal["mix", "anchor"]
PRIOR_KINDS: tuple[str, ...] = get_args(PriorKind)


@dataclass(frozen=True)
class VertexPoseHeadConfig:
    """width/num_convs: 3x3 blocks (separable or dense) before the 1x1 score layer
    (num_convs=0: the score layer reads the backbone features directly); beta: softmax
    sharpening of the spatial argsoftmax, learned (in log space) if learn_beta.

    prior_kind (with a backbone's keypoint heatmaps, see ``vertex_prior``): "mix" adds a
    convex mix of the heatmap logits to each score map (a mesh inside the landmarks' hull);
    "anchor" adds a Gaussian bump, ``anchor_sigma`` cells wide under the spatial softmax, at
    an affine mix of the decoded landmark positions (a mesh as wide as the body)."""

    width: int = 128
    num_convs: int = 1
    separable: bool = True
    beta: float = 1.0
    learn_beta: bool = False
    prior_kind: PriorKind = "mix"
    anchor_sigma: float = 0.75

    def __post_init__(self) -> None:
        if self.prior_kind not in PRIOR_KINDS:
            raise ValueError(f"unknown prior_kind {self.prior_kind!r}; choose one of {PRIOR_KINDS}")
        if self.anchor_sigma <= 0:
            raise ValueError(f"anchor_sigma must be positive, got {self.anchor_sigma}")


@dataclass(frozen=True)
class RegressionHeadConfig:
    """bins: C', the number of 1D bins per axis."""

    bins: int = 64


class VertexPoseHead(nn.Module):
    """(B, C, h, w) -> scores (B, V, h, w), fg_logit (B, 1, h, w).

    prior_channels > 0: the last that many feature channels are keypoint heatmap logits, and
    a fixed prior built from them (``prior_weight``, a (V, K) buffer set by ``set_prior``;
    see ``vertex_prior`` and ``VertexPoseHeadConfig.prior_kind``) is added to every score
    map: the learned layers are a residual on it.
    The prior stays fixed because fine-tuning it with Adam moves every weight by about the
    learning rate per step whatever the gradient's size, and with logits in the hundreds
    that wrecked it within a few hundred small-batch steps.
    """

    def __init__(
        self,
        in_channels: int,
        num_vertices: int,
        cfg: VertexPoseHeadConfig,
        prior_channels: int = 0,
    ) -> None:
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
        self.prior_channels = prior_channels
        self.prior_kind = cfg.prior_kind
        # softmax(beta * score) of -inv_s2 * d^2 is a Gaussian of anchor_sigma cells
        self.anchor_inv_s2 = 1.0 / (2.0 * cfg.anchor_sigma**2 * cfg.beta)
        if prior_channels:
            self.register_buffer("prior_weight", torch.zeros(num_vertices, prior_channels, 1, 1))
        log_beta = torch.tensor(math.log(cfg.beta))
        if cfg.learn_beta:
            self.log_beta = nn.Parameter(log_beta)
        else:
            self.register_buffer("log_beta", log_beta)
        init_weights(self)

    @torch.no_grad()
    def set_prior(self, weights: torch.Tensor) -> None:
        """(V, prior_channels) prior weights; the learned score rows restart at zero so the
        initial score maps are exactly the prior."""
        if not self.prior_channels:
            raise ValueError("this head has no prior channels")
        self.prior_weight.copy_(weights.reshape(self.prior_weight.shape))
        self.out.weight[: self.num_vertices].zero_()
        self.out.bias[: self.num_vertices].zero_()

    def xy_masks(self) -> dict[nn.Parameter, torch.Tensor]:
        """Per output parameter a mask of its shape (C_out, ...): 0 on the learned score rows
        (what moves the vertex positions), 1 elsewhere."""
        masks = {}
        for p in (self.out.weight, self.out.bias):
            m = torch.ones_like(p)
            m[: self.num_vertices] = 0
            masks[p] = m
        return masks

    @torch.no_grad()
    def drop_zero_score_rows(self) -> bool:
        """Inference only: when the learned score rows are exactly zero (XY frozen to the
        prior, ``MeshPoseNet.freeze_xy_residuals``), keep only the foreground row of ``out``:
        the scores are the prior's alone and the largest layer of the head is skipped (its
        output is then unused unless IUV is wanted). Returns whether rows were dropped."""
        v = self.num_vertices
        if not self.prior_channels or self.out.out_channels != v + 1:
            return False
        if self.out.weight[:v].any() or self.out.bias[:v].any():
            return False
        fg = nn.Conv2d(self.out.in_channels, 1, 1).to(self.out.weight)
        fg.weight.copy_(self.out.weight[v:])
        fg.bias.copy_(self.out.bias[v:])
        self.out = fg
        return True

    @property
    def beta(self) -> torch.Tensor:
        """Scalar tensor, shape (); exp of a log parameter keeps it positive while learning."""
        return self.log_beta.exp()

    def forward(
        self,
        features: torch.Tensor,
        keypoints: torch.Tensor | None = None,
        anchors: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """keypoints (B, 2K): the heatmaps' decoded (x, y) as fractions of the crop size,
        which the anchor prior needs (the backbone's pooled summary); anchors (B, V, 2) crop
        px: where the anchor prior's bumps go instead of its affine mix of the keypoints
        (the keypoint lifter's vertices)."""
        # Score maps in NCHW even in a channels_last model: the spatial softmax then reads
        # each map contiguously (XS, 2 CPU cores: ~0.8 ms instead of ~4.5 ms of decoding).
        out = self.out(self.body(features))
        fg_logit = out[:, -1:]
        if not self.prior_channels:
            return out[:, : self.num_vertices].contiguous(), fg_logit
        if self.prior_kind == "anchor":
            if keypoints is None and anchors is None:
                raise ValueError("the anchor prior needs the decoded keypoints")
            h, w = features.shape[-2:]
            cells = (
                self.anchors(keypoints, h, w)
                if anchors is None
                else pixel_to_cell(anchors, FEATURE_STRIDE)
            )
            prior = self._anchor_scores(cells, h, w)
        else:
            prior = self._prior_scores(features[:, -self.prior_channels :])
        if self.out.out_channels == 1:  # learned rows dropped (drop_zero_score_rows)
            return prior, fg_logit
        return (out[:, : self.num_vertices] + prior).contiguous(), fg_logit

    def _prior_scores(self, heatmaps: torch.Tensor) -> torch.Tensor:
        """(B, K, h, w) keypoint heatmap logits -> (B, V, h, w) prior scores: the 1x1 mix as
        a (V, K) x (K, h*w) product. The same numbers as a 1x1 convolution, but an exported
        graph (NHWC in LiteRT) then makes the V score maps row-major directly instead of
        transposing all V x h x w of them for the spatial softmax (~0.3 ms of 3.8 on CPU)."""
        b, k, h, w = heatmaps.shape
        mix = self.prior_weight.reshape(self.num_vertices, k)
        return torch.matmul(mix, heatmaps.reshape(b, k, h * w)).reshape(b, -1, h, w)

    def anchors(self, keypoints: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """(B, 2K) keypoints as fractions of the crop -> (B, V, 2) anchors in grid cells."""
        crop = keypoints.new_tensor([w * FEATURE_STRIDE, h * FEATURE_STRIDE])  # (W, H) px
        pixels = keypoints.reshape(keypoints.shape[0], -1, 2) * crop
        cells = pixel_to_cell(pixels, FEATURE_STRIDE)
        mix = self.prior_weight.reshape(self.num_vertices, -1)
        return torch.einsum("vk,bka->bva", mix, cells)

    def _anchor_scores(self, anchor: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """anchor (B, V, 2) grid cells -> (B, V, h, w) scores -inv_s2 * |cell - anchor|^2,
        built from separable x and y terms (one broadcast add over the V score maps)."""
        xs = torch.arange(w, dtype=anchor.dtype, device=anchor.device)
        ys = torch.arange(h, dtype=anchor.dtype, device=anchor.device)
        dx = (xs - anchor[..., :1]) ** 2  # (B, V, w)
        dy = (ys - anchor[..., 1:]) ** 2  # (B, V, h)
        return ((dy[..., :, None] + dx[..., None, :]) * -self.anchor_inv_s2).contiguous()


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

    def __init__(
        self,
        in_channels: int,
        num_vertices: int,
        cfg: RegressionHeadConfig,
        extra_channels: int = 0,
    ) -> None:
        super().__init__()
        c, self.bins, self.num_vertices = in_channels, cfg.bins, num_vertices
        self.in_channels, self.extra_channels = in_channels, extra_channels
        if extra_channels:  # keypoint prior buffers (see set_keypoint_prior)
            self.register_buffer("prior_mix", torch.zeros(num_vertices, extra_channels // 2))
            self.register_buffer("prior_centres", torch.zeros(2, cfg.bins))
            self.register_buffer("prior_inv_s2", torch.zeros(2))
            self.register_buffer("prior_extent", torch.zeros(2))
        self.psi = nn.Linear(c + extra_channels, 3 * c * cfg.bins)
        self.act = nn.ReLU(inplace=True)
        self.f1d = nn.Conv1d(3 * c, 3 * num_vertices, kernel_size=1, groups=3)
        init_weights(self)

    @torch.no_grad()
    def set_visibility_bias(self, logit: float) -> None:
        """Start every vertex at visibility sigmoid(logit) (shifting all z logits of a vertex
        leaves its depth unchanged): with a VertexPose prior, trust the prior at first."""
        v = self.num_vertices
        self.f1d.bias[2 * v :].add_(logit - self.f1d.bias[2 * v :].mean())

    @torch.no_grad()
    def set_keypoint_prior(
        self,
        prior: torch.Tensor,
        ranges: dict[str, tuple[float, float]],
        input_size: tuple[int, int],
        width: float = 1.0,
    ) -> None:
        """Add fixed x and y bin logits -(c_b - X)^2 / s^2 peaked at the prior's keypoint
        mix X = sum_k a_k x_k (s = ``width`` bins): prior (V, K) sum-to-one weights over the
        K keypoints whose (x / W, y / H) are the extra inputs; input_size (H, W) of the crop.
        Fixed, like the VertexPose prior: the learned logits are a residual on it."""
        v, k = prior.shape
        if self.extra_channels != 2 * k or v != self.num_vertices:
            raise ValueError(f"prior {tuple(prior.shape)} does not fit this head")
        self.prior_mix.copy_(prior)
        for axis, name in enumerate(("x", "y")):
            lo, hi = ranges[name]
            self.prior_centres[axis] = torch.linspace(lo, hi, self.bins)
            self.prior_inv_s2[axis] = ((self.bins - 1) / (width * (hi - lo))) ** 2
            self.prior_extent[axis] = float(input_size[1 - axis])

    def xy_masks(self) -> dict[nn.Parameter, torch.Tensor]:
        """Per output parameter a mask of its shape (C_out, ...): 0 on the learned x and y logit
        paths (psi rows and f1D groups of those axes), 1 on depth (and so visibility)."""
        if self.depth_only:
            return {}  # no x, y paths to freeze
        c = self.psi.out_features // (3 * self.bins)
        v = self.num_vertices
        masks = {}
        for p in (self.psi.weight, self.psi.bias):
            m = torch.ones_like(p).view(3, c * self.bins, -1)
            m[:2] = 0
            masks[p] = m.view_as(p)
        for p in (self.f1d.weight, self.f1d.bias):
            m = torch.ones_like(p)
            m[: 2 * v] = 0
            masks[p] = m
        return masks

    @property
    def depth_only(self) -> bool:
        """Whether psi and f1D hold only the depth path: x and y are the prior's logits."""
        return self.f1d.out_channels == self.num_vertices

    def depth_rows(self) -> dict[str, slice]:
        """The rows of psi and f1D (parameter name prefixes "psi", "f1d") that hold the depth
        path of a full head: the last third of each."""
        third = self.psi.out_features // 3
        return {"psi": slice(2 * third, None), "f1d": slice(2 * self.num_vertices, None)}

    def xy_droppable(self) -> bool:
        """Whether the head is full, has the keypoint prior that gives x and y without it,
        and its learned x and y paths are exactly zero (XY frozen)."""
        if not self.extra_channels or self.depth_only:
            return False
        rows = self.depth_rows()
        return not any(
            getattr(self, name).weight[: rows[name].start].any()
            or getattr(self, name).bias[: rows[name].start].any()
            for name in rows
        )

    @torch.no_grad()
    def drop_zero_xy(self) -> bool:
        """When the learned x and y paths are exactly zero (XY frozen to the prior), keep
        only the depth third of psi and f1D (two thirds of the head's weights, which a
        batch-1 call reads from memory every frame). Returns whether they were dropped."""
        if not self.xy_droppable():
            return False
        self.keep_depth_only()
        return True

    @torch.no_grad()
    def keep_depth_only(self) -> None:
        """Replace psi and f1D by their depth thirds (``drop_zero_xy`` once it has checked
        the rest is zero; a checkpoint loader before loading a depth-only state)."""
        if not self.extra_channels:
            raise ValueError("only a head with a keypoint prior can drop its x, y paths")
        if self.depth_only:
            return
        rows = self.depth_rows()
        psi = nn.Linear(self.psi.in_features, self.psi.out_features // 3).to(self.psi.weight)
        f1d = nn.Conv1d(self.psi.out_features // (3 * self.bins), self.num_vertices, 1)
        f1d = f1d.to(self.f1d.weight)
        for new, name in ((psi, "psi"), (f1d, "f1d")):
            new.weight.copy_(getattr(self, name).weight[rows[name]])
            new.bias.copy_(getattr(self, name).bias[rows[name]])
        self.psi, self.f1d = psi, f1d

    @torch.no_grad()
    def restore_xy(self) -> None:
        """Inverse of ``keep_depth_only``: full psi and f1D with zero x and y paths (to
        train from a checkpoint saved depth-only)."""
        if not self.depth_only:
            return
        c = self.psi.out_features // self.bins
        psi = nn.Linear(self.psi.in_features, 3 * self.psi.out_features).to(self.psi.weight)
        f1d = nn.Conv1d(3 * c, 3 * self.num_vertices, 1, groups=3).to(self.f1d.weight)
        old = {"psi": self.psi, "f1d": self.f1d}
        self.psi, self.f1d = psi, f1d
        rows = self.depth_rows()
        for name, module in (("psi", psi), ("f1d", f1d)):
            module.weight.zero_()
            module.bias.zero_()
            module.weight[rows[name]] = old[name].weight
            module.bias[rows[name]] = old[name].bias

    def prior_logits(self, extra: torch.Tensor) -> torch.Tensor:
        """(B, 2K) keypoints -> (B, 2, V, bins) fixed x, y logits (zero before a prior is set)."""
        keypoints = extra.reshape(extra.shape[0], -1, 2) * self.prior_extent  # (B, K, 2) px
        mix = torch.einsum("vk,bka->bav", self.prior_mix, keypoints)  # (B, 2, V)
        offset = self.prior_centres[None, :, None, :] - mix[..., None]  # (B, 2, V, bins)
        return -(offset**2) * self.prior_inv_s2[None, :, None, None]

    def forward(
        self, features: torch.Tensor, extra: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """features (B, >= C, h, w): the first C channels are pooled (a backbone's heatmap
        channels after them stay out: their logit means are large and uninformative);
        extra (B, extra_channels) global inputs (or None)."""
        pooled = features[:, : self.in_channels].mean(dim=(2, 3))  # (B, C)
        if self.extra_channels:
            if extra is None:
                raise ValueError("this regression head needs its extra pooled inputs")
            pooled = torch.cat((pooled, extra), dim=1)
        b = pooled.shape[0]
        expanded = self.act(self.psi(pooled)).reshape(b, -1, self.bins)  # (B, 3C, C')
        logits = self.f1d(expanded).reshape(b, -1, self.num_vertices, self.bins)
        z_logits = logits[:, -1]
        if self.depth_only:  # x, y dropped (drop_zero_xy)
            xy_logits = self.prior_logits(extra)  # type: ignore[arg-type]
        elif self.extra_channels:
            xy_logits = logits[:, :2] + self.prior_logits(extra)  # type: ignore[arg-type]
        else:
            xy_logits = logits[:, :2]
        return {
            "x_logits": xy_logits[:, 0],
            "y_logits": xy_logits[:, 1],
            "z_logits": z_logits,
            "vis_logit": z_logits.mean(dim=-1),
        }
