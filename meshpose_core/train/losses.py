"""The MeshPose training losses (Le et al., CVPR 2024, Eq. 3-11) as small pure functions.

Conventions (B batch, V low-poly vertices, F faces, E edges, P annotated DensePose points,
K keypoints):

* Vertex and keypoint coordinates are crop pixels (centre of the top-left pixel at (0, 0), x to
  the right, y down; the convention of ``meshpose_core.model.decoding``) plus, for 3D, a depth z
  in the same units. Sizes are (height, width), like tensor shapes.
* Partial supervision: real images have only 2D joints and silhouettes, synthetic ones have
  everything. Every loss takes an optional ``mask`` of non-negative weights (bool or float),
  per sample (B,) or per element, and returns the weighted mean over the valid elements; with
  nothing valid it returns 0, still attached to the graph and never NaN.
* L1 distances between vectors are the sum of absolute coordinate differences of one element
  (vertex, point, joint), averaged over elements.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor, nn

_EPS = 1e-12

# --- shared helpers ---------------------------------------------------------------------------


def masked_mean(values: Tensor, mask: Tensor | None = None) -> Tensor:
    """Weighted mean of ``values`` (B, ...) under ``mask`` of a leading shape ((B,), (B, N)...).

    Masked-out entries are replaced, not multiplied, so a NaN or inf there cannot leak; with no
    weight at all the result is an exact 0 that still backpropagates (zero gradients).
    """
    if mask is None:
        weight = torch.ones_like(values)
    else:
        if tuple(mask.shape) != tuple(values.shape[: mask.dim()]):
            raise ValueError(f"mask {tuple(mask.shape)} does not lead values {tuple(values.shape)}")
        trailing = (1,) * (values.dim() - mask.dim())
        weight = mask.to(values.dtype).reshape(*mask.shape, *trailing).expand_as(values)
    total = torch.where(weight > 0, values * weight, torch.zeros_like(values)).sum()
    count = weight.sum()
    return total / torch.where(count > 0, count, torch.ones_like(count))


def _element_mask(mask: Tensor | None, index: Tensor) -> Tensor | None:
    """Per-sample (B,) masks pass through; per-vertex (B, V) ones become per edge/face (B, N)
    for ``index`` (N, k): an edge or face counts only as much as its least valid vertex."""
    if mask is None or mask.dim() == 1:
        return mask
    return mask.to(torch.float32)[:, index].amin(dim=-1)


def _norm(x: Tensor) -> Tensor:
    """Euclidean norm over the last axis with a finite gradient at 0."""
    return x.pow(2).sum(dim=-1).clamp_min(_EPS).sqrt()


def _normalize(x: Tensor) -> Tensor:
    """Unit vectors over the last axis; a zero vector stays zero instead of NaN."""
    return x / _norm(x).unsqueeze(-1)


def crop_to_grid(xy: Tensor, crop_size: tuple[int, int], grid_size: tuple[int, int]) -> Tensor:
    """Crop pixels (..., 2) as (x, y) -> continuous coordinates of a (h, w) grid over the crop.

    The grid cell (i, j) is centred at (x=j, y=i); sizes are (height, width). Same convention as
    ``decoding.pixel_to_cell`` (stride = crop / grid), also for non-integer strides.
    """
    scale = xy.new_tensor([grid_size[1] / crop_size[1], grid_size[0] / crop_size[0]])
    return (xy + 0.5) * scale - 0.5


# --- VertexPose supervision from DensePose points (Eq. 3-4 and the UV consistency) ------------


def sample_scores(scores: Tensor, points: Tensor) -> Tensor:
    """Bilinearly sampled score maps: (B, V, h, w), points (B, P, 2) -> (B, P, V).

    ``points`` are (x, y) in feature-grid coordinates (``crop_to_grid`` of crop pixels; cell
    (i, j) centred at x=j, y=i); outside the grid the border cells are used. The logits are
    interpolated, not the posterior: this is decoding a bilinearly upsampled score map, as
    DensePose does for its per-pixel logits, and keeps gradients for sub-cell annotations.
    """
    h, w = scores.shape[-2:]
    size = scores.new_tensor([w, h])
    grid = (2.0 * points.to(scores.dtype) + 1.0) / size - 1.0  # align_corners=False
    sampled = F.grid_sample(
        scores, grid.unsqueeze(1), mode="bilinear", padding_mode="border", align_corners=False
    )
    return sampled.squeeze(2).transpose(1, 2)


def _corner_scores(
    scores: Tensor, points: Tensor, face_index: Tensor, faces: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """-> sampled scores (B, P, V), scores of the annotated face's 3 vertices (B, P, 3) and the
    clamped face index (B, P) (padding points may carry any index; their mask drops them)."""
    face_index = face_index.long().clamp(0, faces.shape[0] - 1)
    sampled = sample_scores(scores, points)
    corners = faces.long()[face_index]  # (B, P, 3)
    return sampled, torch.gather(sampled, 2, corners), face_index


def barycentric_cross_entropy(
    scores: Tensor,
    points: Tensor,
    face_index: Tensor,
    bary: Tensor,
    faces: Tensor,
    mask: Tensor | None = None,
) -> Tensor:
    """L_BL (Eq. 3-4): cross-entropy between the per-pixel vertex posterior and the annotation's
    barycentrics on the low-poly mesh, -sum_k b_k log q_p(v_k), q_p = softmax_v(S[:, :, p]).

    The soft target puts mass b_k on the three vertices of the annotated face, so the vertex
    score maps peak where DensePose says the vertex is, without any vertex-level annotation.

    scores (B, V, h, w); points (B, P, 2) in feature-grid coordinates (see ``sample_scores``);
    face_index (B, P) int into faces (F, 3); bary (B, P, 3) summing to 1; mask (B,) or (B, P).
    """
    sampled, corner, _ = _corner_scores(scores, points, face_index, faces)
    log_q = corner - torch.logsumexp(sampled, dim=-1, keepdim=True)
    return masked_mean(-(bary * log_q).sum(dim=-1), mask)


def uv_consistency(
    scores: Tensor,
    points: Tensor,
    face_index: Tensor,
    bary: Tensor,
    faces: Tensor,
    corner_uv: Tensor,
    mask: Tensor | None = None,
    norm: Literal["l1", "l2"] = "l1",
) -> Tensor:
    """L_consistency: the UV decoded from the posterior restricted to the annotated face must be
    the annotated UV, so the three corner posteriors also get their ratios right.

    Decoded UV = sum_k q~_k corner_uv[f, k] with q~ the posterior renormalised over the face's 3
    vertices (= softmax of their 3 scores); annotated UV = sum_k b_k corner_uv[f, k]. Per point
    the distance is L1 (|dU| + |dV|) or, with ``norm="l2"``, Euclidean.

    Shapes as in ``barycentric_cross_entropy``; corner_uv (F, 3, 2) per-corner part UV.
    """
    if norm not in ("l1", "l2"):
        raise ValueError(f"unknown norm {norm!r}; choose 'l1' or 'l2'")
    _, corner, face_index = _corner_scores(scores, points, face_index, faces)
    uv = corner_uv.to(scores.dtype)[face_index]  # (B, P, 3, 2)
    pred = (torch.softmax(corner, dim=-1).unsqueeze(-1) * uv).sum(dim=-2)
    diff = pred - (bary.to(uv.dtype).unsqueeze(-1) * uv).sum(dim=-2)
    dist = diff.abs().sum(dim=-1) if norm == "l1" else _norm(diff)
    return masked_mean(dist, mask)


# --- mesh supervision -------------------------------------------------------------------------


def visibility_bce(vis_logit: Tensor, visibility: Tensor, mask: Tensor | None = None) -> Tensor:
    """L_W: binary cross-entropy of the visibility logits (B, V) against visibility in {0, 1}
    (B, V); the visibility decides how much each vertex trusts VertexPose vs regression."""
    bce = F.binary_cross_entropy_with_logits(
        vis_logit, visibility.to(vis_logit.dtype), reduction="none"
    )
    return masked_mean(bce, mask)


def vertex_loss(
    pred: Tensor,
    target: Tensor,
    mask: Tensor | None = None,
    depth_mask: Tensor | None = None,
    depth_weight: float = 1.0,
) -> Tensor:
    """L_V: mean |dx| + |dy| over xy-valid vertices plus depth_weight * mean |dz| over
    depth-valid ones, averaged separately so that samples without depth do not dilute it.

    pred (B, V, 3); target (B, V, 3) or (B, V, 2) (no depth term); mask, depth_mask (B,) or
    (B, V); depth_mask defaults to mask.
    """
    loss = masked_mean((pred[..., :2] - target[..., :2]).abs().sum(dim=-1), mask)
    if target.shape[-1] > 2:
        dz = (pred[..., 2] - target[..., 2]).abs()
        loss = loss + depth_weight * masked_mean(dz, mask if depth_mask is None else depth_mask)
    return loss


def edge_loss(pred: Tensor, target: Tensor, edges: Tensor, mask: Tensor | None = None) -> Tensor:
    """L_E (Pose2Mesh): mean over edges of | |pred edge| - |target edge| |, which constrains
    the mesh's local scale without caring where it is.

    pred, target (B, V, D); edges (E, 2); mask (B,) or per vertex (B, V).
    """

    def lengths(v: Tensor) -> Tensor:
        return _norm(v[:, edges[:, 0]] - v[:, edges[:, 1]])

    return masked_mean((lengths(pred) - lengths(target)).abs(), _element_mask(mask, edges))


def normal_loss(pred: Tensor, target: Tensor, faces: Tensor, mask: Tensor | None = None) -> Tensor:
    """L_N (Pose2Mesh): per face, sum over its 3 predicted edges of |<unit edge, target normal>|,
    averaged over faces; zero when every predicted face lies in its target face's plane.

    pred, target (B, V, 3); faces (F, 3); mask (B,) or per vertex (B, V). Degenerate target
    faces have no normal and contribute 0.
    """
    t0, t1, t2 = (target[:, faces[:, k]] for k in range(3))
    normal = _normalize(torch.linalg.cross(t1 - t0, t2 - t0, dim=-1))  # (B, F, 3)
    p0, p1, p2 = (pred[:, faces[:, k]] for k in range(3))
    edge_dirs = _normalize(torch.stack((p1 - p0, p2 - p1, p0 - p2), dim=-2))  # (B, F, 3, 3)
    cosines = (edge_dirs * normal.unsqueeze(-2)).sum(dim=-1).abs().sum(dim=-1)
    return masked_mean(cosines, _element_mask(mask, faces))


def regress_keypoints(vertices: Tensor, index: Tensor, weight: Tensor) -> Tensor:
    """Sparse landmarker: (B, V, D) vertices, index (K, S), weight (K, S) -> (B, K, D)."""
    return torch.einsum("ks,bksd->bkd", weight.to(vertices.dtype), vertices[:, index])


def joint_loss(
    vertices: Tensor,
    target: Tensor,
    landmark_index: Tensor,
    landmark_weight: Tensor,
    mask: Tensor | None = None,
) -> Tensor:
    """L_J: L1 between keypoints regressed from the vertices and the annotated keypoints.

    vertices (B, V, D); target (B, K, 2) (xy) or (B, K, 3) (xy and depth: the third channel is
    a coordinate, not a COCO visibility flag); landmark_index/weight (K, S); mask (B,) or (B, K)
    for per-joint visibility or confidence.
    """
    keypoints = regress_keypoints(vertices, landmark_index, landmark_weight)
    dims = target.shape[-1]
    return masked_mean((keypoints[..., :dims] - target).abs().sum(dim=-1), mask)


# --- soft silhouette (L_Is) ---------------------------------------------------------------------


@dataclass(frozen=True)
class SilhouetteConfig:
    """How the visibility-weighted soft silhouette is rendered and compared.

    The loss lives on a ``render_size`` (h, w) grid over the crop. Each vertex splats
    D(p) = sigmoid((radius - |p - x|) / softness) with radius and softness in render-grid
    pixels. The defaults were calibrated at 64x64 on the posed fixture bodies (140-224 px tall
    in a 256 crop, front-facing vertices visible, where projected vertices leave gaps of up to
    ~2 px): they nearly minimise the squared term against the rasterised low-poly mesh, and at
    the true mesh the pixels wrongly on and wrongly off roughly balance (~90 and ~100 of ~550),
    so the loss does not push the outline in or out. Splats cannot follow the outline exactly:
    that mismatch (mean squared error ~0.03) is a floor of the loss.
    """

    render_size: tuple[int, int] = (64, 64)
    radius: float = 0.75
    softness: float = 0.25
    mse_weight: float = 100.0
    boundary_weight: float = 1.0


# A splat is evaluated on the pixels within radius + _SPLAT_TAIL * softness of its vertex
# (per axis); beyond, D < sigmoid(-_SPLAT_TAIL) ~ 3e-4 is dropped.
_SPLAT_TAIL = 8.0


def render_soft_silhouette(
    xy: Tensor,
    visibility: Tensor,
    crop_size: tuple[int, int],
    config: SilhouetteConfig | None = None,
) -> Tensor:
    """I(p) = 1 - prod_j (1 - w_j D_j(p)) on the config's render grid, summed in log space.

    xy (B, V, 2) crop pixels; visibility w (B, V) in [0, 1] (gradients reach it too: a vertex
    outside the mask can also be explained as invisible); crop_size (H, W) -> (B, h, w).

    Each vertex is splatted only on a (2k+1)^2 window around it (k = ceil(radius +
    _SPLAT_TAIL * softness), 7x7 by default) and the log terms are scatter-added, so cost and
    memory are B * V * (2k+1)^2 instead of B * V * h * w. log(1 - w D) is evaluated as
    log((1 - w) + w * sigmoid((d - r) / s)): both terms are non-negative and the second is at
    least sigmoid(-r / s), so the log is finite and smooth without clamping.
    """
    cfg = config or SilhouetteConfig()
    h, w = cfg.render_size
    grid = crop_to_grid(xy, crop_size, cfg.render_size)  # (B, V, 2)
    half = math.ceil(cfg.radius + _SPLAT_TAIL * cfg.softness)
    offsets = torch.arange(-half, half + 1, device=xy.device, dtype=xy.dtype)
    window = grid.detach().round().unsqueeze(-1) + offsets  # (B, V, 2, K) pixel x and y
    px, py = window[:, :, 0], window[:, :, 1]  # (B, V, K)
    dx2 = (px - grid[..., :1]).pow(2)
    dy2 = (py - grid[..., 1:]).pow(2)
    dist = (dy2.unsqueeze(-1) + dx2.unsqueeze(-2) + _EPS).sqrt()  # (B, V, K, K): rows y
    outside = torch.sigmoid((dist - cfg.radius) / cfg.softness)
    vis = visibility.to(xy.dtype)[..., None, None]
    log_term = torch.log((1.0 - vis) + vis * outside)
    on_grid = ((py >= 0) & (py < h)).unsqueeze(-1) & ((px >= 0) & (px < w)).unsqueeze(-2)
    flat = py.clamp(0, h - 1).unsqueeze(-1) * w + px.clamp(0, w - 1).unsqueeze(-2)
    log_term = torch.where(on_grid, log_term, torch.zeros_like(log_term))
    b = xy.shape[0]
    log_empty = xy.new_zeros(b, h * w).scatter_add(
        1, flat.long().reshape(b, -1), log_term.reshape(b, -1)
    )
    return -torch.expm1(log_empty).reshape(b, h, w)


def resample_mask(mask: Tensor, size: tuple[int, int]) -> Tensor:
    """(B, H', W') mask in [0, 1] -> (B, h, w) = size, area-averaged (soft at the boundary;
    the same tensor when it already has that size)."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.interpolate(mask.unsqueeze(1), size=size, mode="area").squeeze(1)


def mask_distance_transform(mask: Tensor) -> Tensor:
    """Euclidean distance in grid pixels from each pixel to the nearest foreground pixel of a
    binary mask (0 inside it): (B, h, w) bool -> float, no gradient. An empty mask gives all
    zeros (nowhere to pull towards). Exact (scipy) on CPU; at 64x64 it costs ~0.1 ms a mask."""
    masks = mask.detach().cpu().numpy().astype(bool)
    out = np.zeros(masks.shape, np.float32)
    for i, m in enumerate(masks):
        if m.any():
            out[i] = ndimage.distance_transform_edt(~m)
    return torch.from_numpy(out).to(mask.device)


def soft_silhouette_loss(
    xy: Tensor,
    visibility: Tensor,
    gt_mask: Tensor,
    crop_size: tuple[int, int],
    config: SilhouetteConfig | None = None,
    mask: Tensor | None = None,
) -> Tensor:
    """L_Is: mse_weight * mean_p (I(p) - M(p))^2 + boundary_weight * mean_p I(p) DT(p).

    The squared term matches the soft silhouette I of the visible vertices to the mask M, but
    its gradient vanishes for a vertex far outside M (moving it changes nothing); the second
    term charges each unit of predicted mass the distance DT (render-grid pixels) to the GT
    mask and so pulls stray vertices back. Both terms are means over the h*w render pixels
    (area fractions, independent of the render resolution up to DT's pixel unit).

    xy (B, V, 2) crop pixels; visibility (B, V) in [0, 1]; gt_mask (B, H', W') in [0, 1] at any
    resolution (area-resampled to the render grid; DT is taken of the resampled mask > 0.5);
    crop_size (H, W) of the crop xy refers to; mask (B,).
    """
    cfg = config or SilhouetteConfig()
    target = resample_mask(gt_mask.to(xy.dtype), cfg.render_size)
    pred = render_soft_silhouette(xy, visibility, crop_size, cfg)
    dist = mask_distance_transform(target > 0.5).to(xy.dtype)
    per_sample = cfg.mse_weight * (pred - target).pow(2).mean(dim=(1, 2))
    per_sample = per_sample + cfg.boundary_weight * (pred * dist).mean(dim=(1, 2))
    return masked_mean(per_sample, mask)


def foreground_bce(fg_logit: Tensor, gt_mask: Tensor, mask: Tensor | None = None) -> Tensor:
    """L_fg: binary cross-entropy of the per-pixel foreground logit against the person's mask.

    DensePose's IUV is only defined on the person, so the dense output needs a foreground;
    Eq. 11 has no term for it (the paper's DensePose-style evaluation reads the annotated
    pixels only). The same mask also tells what of the body the image shows (occlusion by
    things the body model cannot know) and where the person's outline is.

    fg_logit (B, 1, h, w) at the score-map resolution; gt_mask (B, H', W') in [0, 1] at any
    resolution (area-resampled to (h, w): soft targets at the boundary); mask (B,).
    """
    logit = fg_logit[:, 0]
    target = resample_mask(gt_mask.to(logit.dtype), tuple(logit.shape[-2:]))
    bce = F.binary_cross_entropy_with_logits(logit, target, reduction="none").mean(dim=(1, 2))
    return masked_mean(bce, mask)


# --- the total (Eq. 11) -----------------------------------------------------------------------


@dataclass(frozen=True)
class LossWeights:
    """Eq. 11: L = L_BL + L_consistency + 10 L_W + 0.1 L_V + L_E + 0.1 L_N + L_J + L_Is, plus
    our foreground term L_fg (``foreground_bce``) at weight 1."""

    barycentric: float = 1.0
    consistency: float = 1.0
    visibility: float = 10.0
    vertex: float = 0.1
    edge: float = 1.0
    normal: float = 0.1
    joint: float = 1.0
    silhouette: float = 1.0
    foreground: float = 1.0


TERMS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LossWeights))


class MeshPoseLoss(nn.Module):
    """All MeshPose losses with the Eq. 11 weights, on whatever supervision a batch carries.

    ``forward(pred, target) -> (total, terms)``; terms maps every name of ``TERMS`` (and
    "total") to a detached float for logging. A term whose target key is absent is 0.

    pred: "scores" (B, V, h, w), "vertices" (B, V, 3) crop pixels and depth, "vis_logit" (B, V),
      optionally "fg_logit" (B, 1, h, w).
    target (every key optional; masks default to all valid):
      "dp_points" (B, P, 2) crop pixels, "dp_face" (B, P), "dp_bary" (B, P, 3),
      "dp_mask" (B,) or (B, P)                                -> barycentric, consistency
      "visibility" (B, V), "visibility_mask" (B,) or (B, V)   -> visibility
      "vertices" (B, V, 3) or (B, V, 2), "vertices_mask" (B,) or (B, V) for xy,
      "depth_mask" (B,) or (B, V) for z (default vertices_mask) -> vertex; with 3D targets
                                                                 also edge and normal (masked
                                                                 by depth_mask: they need a
                                                                 full 3D mesh)
      "keypoints" (B, K, 2 or 3), "keypoints_mask" (B,) or (B, K) -> joint
      "silhouette" (B, H', W') in [0, 1], "silhouette_mask" (B,)  -> silhouette, and with
                                                                 "fg_logit" foreground
    """

    faces: Tensor
    edges: Tensor
    corner_uv: Tensor
    landmark_index: Tensor
    landmark_weight: Tensor

    def __init__(
        self,
        faces: Tensor,
        edges: Tensor,
        corner_uv: Tensor,
        landmark_index: Tensor,
        landmark_weight: Tensor,
        crop_size: tuple[int, int],
        weights: LossWeights | None = None,
        silhouette: SilhouetteConfig | None = None,
    ) -> None:
        super().__init__()
        self.register_buffer("faces", faces.long(), persistent=False)
        self.register_buffer("edges", edges.long(), persistent=False)
        self.register_buffer("corner_uv", corner_uv.float(), persistent=False)
        self.register_buffer("landmark_index", landmark_index.long(), persistent=False)
        self.register_buffer("landmark_weight", landmark_weight.float(), persistent=False)
        self.crop_size = crop_size
        self.weights = weights or LossWeights()
        self.silhouette = silhouette or SilhouetteConfig()

    @classmethod
    def from_topology(
        cls,
        topology: Any,
        crop_size: tuple[int, int],
        weights: LossWeights | None = None,
        silhouette: SilhouetteConfig | None = None,
    ) -> MeshPoseLoss:
        """From a ``meshpose_core.topology.Topology`` (faces, edges, corner_part_uv, landmarks)."""
        return cls(
            torch.as_tensor(topology.faces),
            torch.as_tensor(topology.edges),
            torch.as_tensor(topology.corner_part_uv),
            torch.as_tensor(topology.landmark_index),
            torch.as_tensor(topology.landmark_weight),
            crop_size,
            weights,
            silhouette,
        )

    def terms(self, pred: Mapping[str, Tensor], target: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """The unweighted terms as tensors of shape () (absent supervision -> a constant 0)."""
        vertices, scores = pred["vertices"], pred["scores"]
        out = {name: vertices.new_zeros(()) for name in TERMS}
        if "dp_face" in target:
            points = crop_to_grid(target["dp_points"], self.crop_size, scores.shape[-2:])
            dp = (scores, points, target["dp_face"], target["dp_bary"], self.faces)
            out["barycentric"] = barycentric_cross_entropy(*dp, mask=target.get("dp_mask"))
            out["consistency"] = uv_consistency(*dp, self.corner_uv, mask=target.get("dp_mask"))
        if "visibility" in target:
            out["visibility"] = visibility_bce(
                pred["vis_logit"], target["visibility"], target.get("visibility_mask")
            )
        if "vertices" in target:
            gt = target["vertices"]
            xy_mask = target.get("vertices_mask")
            depth_mask = target.get("depth_mask", xy_mask)
            out["vertex"] = vertex_loss(vertices, gt, xy_mask, depth_mask)
            if gt.shape[-1] == 3:
                out["edge"] = edge_loss(vertices, gt, self.edges, depth_mask)
                out["normal"] = normal_loss(vertices, gt, self.faces, depth_mask)
        if "keypoints" in target:
            out["joint"] = joint_loss(
                vertices,
                target["keypoints"],
                self.landmark_index,
                self.landmark_weight,
                target.get("keypoints_mask"),
            )
        if "silhouette" in target:
            out["silhouette"] = soft_silhouette_loss(
                vertices[..., :2],
                torch.sigmoid(pred["vis_logit"]),
                target["silhouette"],
                self.crop_size,
                self.silhouette,
                target.get("silhouette_mask"),
            )
            if "fg_logit" in pred:
                out["foreground"] = foreground_bce(
                    pred["fg_logit"], target["silhouette"], target.get("silhouette_mask")
                )
        return out

    def forward(
        self, pred: Mapping[str, Tensor], target: Mapping[str, Tensor]
    ) -> tuple[Tensor, dict[str, float]]:
        terms = self.terms(pred, target)
        total = sum(
            (getattr(self.weights, name) * value for name, value in terms.items()),
            start=pred["vertices"].new_zeros(()),
        )
        names = [*terms, "total"]
        values = torch.stack([*terms.values(), total]).detach().cpu().tolist()
        return total, dict(zip(names, values, strict=True))
