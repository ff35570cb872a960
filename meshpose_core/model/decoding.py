"""Turning raw network outputs into vertex positions, visibility and dense IUV (pure functions).

Pixel convention, shared by every function here and by the two XY branches: crop pixel
coordinates with the centre of the top-left pixel at (0, 0), x to the right, y down; the crop
spans [-0.5, W - 0.5] x [-0.5, H - 0.5]. A stride-s feature cell (i, j) covers pixels
[s*j, s*j + s) and its centre is at x = (j + 0.5) * s - 0.5 (``cell_to_pixel``), which is the
align_corners=False convention of bilinear resizing and of strided "same" convolutions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args

import numpy as np
import torch

from ..topology.parts import NUM_PARTS

UVDecoder = Literal["barycentric", "closest_vertex", "global_average"]
UV_DECODERS: tuple[str, ...] = get_args(UVDecoder)
Coords = TypeVar("Coords", torch.Tensor, np.ndarray)


# --- vertex positions -------------------------------------------------------------------------


def cell_to_pixel(cell: Coords, stride: int) -> Coords:
    """Feature-grid coordinates (any shape; a tensor, or a numpy array for constants) ->
    crop pixel coordinates of the cell centres."""
    return (cell + 0.5) * stride - 0.5


def pixel_to_cell(pixel: torch.Tensor, stride: int) -> torch.Tensor:
    """Crop pixel coordinates (any shape) -> continuous feature-grid coordinates (inverse of
    the above)."""
    return (pixel + 0.5) / stride - 0.5


def spatial_argsoftmax(
    scores: torch.Tensor, beta: torch.Tensor | float, stride: int
) -> torch.Tensor:
    """Expected position under softmax(beta * scores) over the h*w cells of each map.

    scores (B, V, h, w) -> (B, V, 2) as (x, y) in crop pixels. Differentiable, so the
    VertexPose branch trains from a position loss; beta sharpens the distribution. One
    (h*w, 2) matrix product gives both coordinates (in ONNX Runtime ~4x faster than row and
    column marginals each dotted with a vector).
    """
    b, v, h, w = scores.shape
    prob = torch.softmax(beta * scores.reshape(b, v, h * w), dim=-1)
    return prob @ cell_grid(h, w, stride).to(scores)


def cell_grid(h: int | torch.Tensor, w: int | torch.Tensor, stride: int) -> torch.Tensor:
    """(h*w, 2) float32 crop-pixel (x, y) of the cell centres in row-major order.

    With integer sizes it is made in numpy, so that traced graphs hold it as one constant:
    built from torch ops, the TFLite export kept two BROADCAST_TO ops that XNNPACK cannot
    run, which split the graph in two delegate partitions around the 518 x 2304 score maps
    (~0.2 ms of 3.8). Sizes that are tensors (the ONNX tracer's dynamic crop sizes) get the
    same numbers from torch ops."""
    if isinstance(h, int) and isinstance(w, int):
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        return torch.from_numpy(cell_to_pixel(np.stack((xs.ravel(), ys.ravel()), axis=1), stride))
    xs, ys = torch.arange(w, dtype=torch.float32), torch.arange(h, dtype=torch.float32)
    return cell_to_pixel(torch.stack((xs.repeat(h), ys.repeat_interleave(w)), dim=1), stride)


def bin_centers(lo: float, hi: float, bins: int, like: torch.Tensor) -> torch.Tensor:
    """(bins,) evenly spaced centres, first exactly ``lo`` and last exactly ``hi``."""
    return torch.linspace(lo, hi, bins, device=like.device, dtype=like.dtype)


def argsoftmax_1d(logits: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Expected bin centre under softmax over the last axis: (B, V, C') -> (B, V).

    A (C', 1) matrix, not a vector: ONNX Runtime's matrix-vector MatMul is ~2.5x slower."""
    centers = bin_centers(lo, hi, logits.shape[-1], logits)
    return (torch.softmax(logits, dim=-1) @ centers[:, None]).squeeze(-1)


def bin_ranges(width: float, height: float) -> dict[str, tuple[float, float]]:
    """Value ranges of the regression bins in crop pixels, per axis.

    x in [-W, 2W] and y in [-H, 3H] leave room for body parts outside the crop (the crop may
    hold only the upper body: legs continue far below); z in [-2W, 2W] is depth relative to the
    body, in the same pixel units as x.
    """
    return {
        "x": (-1.0 * width, 2.0 * width),
        "y": (-1.0 * height, 3.0 * height),
        "z": (-2.0 * width, 2.0 * width),
    }


def fuse_visibility(
    xy_vertexpose: torch.Tensor, xy_regressed: torch.Tensor, visibility: torch.Tensor
) -> torch.Tensor:
    """w * vertexpose + (1 - w) * regressed: (B, V, 2), (B, V, 2), (B, V) -> (B, V, 2).

    Visible vertices trust the localised score maps, occluded or out-of-crop ones the global
    regression, with a smooth hand-over so both branches keep receiving gradient.
    """
    w = visibility.unsqueeze(-1)
    return w * xy_vertexpose + (1.0 - w) * xy_regressed


def facing_camera(
    xy: torch.Tensor,
    faces: torch.Tensor,
    vertex_faces: torch.Tensor,
    vertex_face_weights: torch.Tensor,
    scale: float = 8.0,
) -> torch.Tensor:
    """How much each vertex's faces face the camera, from the 2D mesh alone: (B, V, 2) crop
    pixels, faces (F, 3), vertex_faces (V, D) each vertex's faces padded with F and
    vertex_face_weights (V, D) 1 / its face count, 0 on padding (``vertex_face_table``)
    -> (B, V) in [-1, 1], +1 where every adjacent face is front-facing.

    A face whose projected corners turn clockwise in image coordinates (y down) shows its
    outside: 2D winding is a back-face test that needs no depth. ``scale`` (px^2 of the
    corner cross product, twice the area) softens the sign for near-degenerate faces so the
    term stays differentiable. Occlusion by other body parts is not seen (that stays the
    learned logit's job): on held-out fitted people the fits' own projected windings agree
    with the fits' visibility for 79 % of vertices.
    """
    corners = xy[:, faces]  # (B, F, 3, 2)
    edge1, edge2 = corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0]
    cross = edge1[..., 0] * edge2[..., 1] - edge1[..., 1] * edge2[..., 0]  # (B, F)
    front = torch.cat((torch.tanh(-cross / scale), cross.new_zeros(cross.shape[0], 1)), dim=1)
    return (front[:, vertex_faces] * vertex_face_weights).sum(dim=-1)


def vertex_face_table(faces: np.ndarray, num_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """(F, 3) faces -> the faces of each vertex (V, D) int64, padded with F (no face), and
    their averaging weights (V, D) float32: 1 / the vertex's face count, 0 on padding (a
    constant, so an exported graph has no integer ops around it)."""
    table: list[list[int]] = [[] for _ in range(num_vertices)]
    for f, corners in enumerate(faces.tolist()):
        for v in corners:
            table[v].append(f)
    width = max(1, max(len(t) for t in table))
    index = np.full((num_vertices, width), faces.shape[0], np.int64)
    weights = np.zeros((num_vertices, width), np.float32)
    for v, t in enumerate(table):
        index[v, : len(t)] = t
        weights[v, : len(t)] = 1.0 / max(len(t), 1)
    return index, weights


# --- dense IUV --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TopologyArrays:
    """The topology tensors the IUV decoders need (V vertices, F faces).

    faces (F, 3) int64, corner_part_uv (F, 3, 2) float, face_part (F,) int64 in 1..24,
    vertex_part (V,) int64 in 1..24, vertex_part_uv (V, 2) float.
    """

    faces: torch.Tensor
    corner_part_uv: torch.Tensor
    face_part: torch.Tensor
    vertex_part: torch.Tensor
    vertex_part_uv: torch.Tensor

    @classmethod
    def from_topology(
        cls, topology: Any, device: torch.device | str | None = None
    ) -> TopologyArrays:
        """From a ``meshpose_core.topology.Topology`` (or anything with its numpy fields)."""

        def t(name: str, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(getattr(topology, name)).to(device=device, dtype=dtype)

        return cls(
            faces=t("faces", torch.int64),
            corner_part_uv=t("corner_part_uv", torch.float32),
            face_part=t("face_part", torch.int64),
            vertex_part=t("vertex_part", torch.int64),
            vertex_part_uv=t("vertex_part_uv", torch.float32),
        )


def vertex_posterior(scores: torch.Tensor) -> torch.Tensor:
    """q: softmax over the V vertices at every pixel, (B, V, h, w) -> (B, V, h, w)."""
    return torch.softmax(scores, dim=1)


def _iuv(part: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """part (B, h, w) int, uv (B, h, w, 2) -> IUV (B, 3, h, w) float."""
    return torch.cat((part.unsqueeze(1).to(uv.dtype), uv.permute(0, 3, 1, 2)), dim=1)


def decode_uv_barycentric(
    scores: torch.Tensor,
    faces: torch.Tensor,
    corner_part_uv: torch.Tensor,
    face_part: torch.Tensor,
) -> torch.Tensor:
    """Eq. 2 of MeshPose: the face whose 3 vertices carry most posterior mass, then barycentric
    UV from those 3 posteriors renormalised to sum to 1.

    scores (B, V, h, w), faces (F, 3), corner_part_uv (F, 3, 2), face_part (F,)
    -> IUV (B, 3, h, w) with I = face_part[f*] (unmasked). Peak memory ~ B*F*h*w floats.
    """
    q = vertex_posterior(scores)
    # (B, F, h, w) face mass; index_select + in-place adds keep one F-sized temporary alive
    face_mass = q.index_select(1, faces[:, 0])
    face_mass.add_(q.index_select(1, faces[:, 1])).add_(q.index_select(1, faces[:, 2]))
    best = face_mass.argmax(dim=1)  # (B, h, w)
    corners = faces[best].permute(0, 3, 1, 2)  # (B, 3, h, w) vertex ids
    bary = torch.gather(q, 1, corners)
    bary = bary / bary.sum(dim=1, keepdim=True).clamp_min(1e-12)
    uv = (bary.permute(0, 2, 3, 1).unsqueeze(-1) * corner_part_uv[best]).sum(dim=-2)
    return _iuv(face_part[best], uv)


def decode_uv_closest_vertex(
    scores: torch.Tensor, vertex_part: torch.Tensor, vertex_part_uv: torch.Tensor
) -> torch.Tensor:
    """(I, U, V) of the most likely vertex at each pixel; no softmax needed (argmax of S).

    scores (B, V, h, w), vertex_part (V,), vertex_part_uv (V, 2) -> IUV (B, 3, h, w).
    """
    best = scores.argmax(dim=1)
    return _iuv(vertex_part[best], vertex_part_uv[best])


def decode_uv_global_average(
    scores: torch.Tensor, vertex_part: torch.Tensor, vertex_part_uv: torch.Tensor
) -> torch.Tensor:
    """I of the most likely vertex; UV the posterior-weighted mean UV of that part's vertices.

    Per-part sums come from one (V, 3 * parts) matmul instead of a V-wide mask per pixel.
    scores (B, V, h, w), vertex_part (V,), vertex_part_uv (V, 2) -> IUV (B, 3, h, w).
    """
    b, v, h, w = scores.shape
    q = vertex_posterior(scores).reshape(b, v, h * w)
    one_hot = torch.nn.functional.one_hot(vertex_part, NUM_PARTS + 1).to(q.dtype)  # (V, P)
    weights = torch.cat(
        (one_hot, one_hot * vertex_part_uv[:, :1], one_hot * vertex_part_uv[:, 1:]), dim=1
    )  # (V, 3P): [mass | mass * u | mass * v] per part
    sums = torch.einsum("bvn,vk->bkn", q, weights).reshape(b, 3, NUM_PARTS + 1, h * w)
    part = vertex_part[scores.argmax(dim=1)].reshape(b, 1, 1, h * w)
    picked = torch.gather(sums, 2, part.expand(b, 3, 1, h * w)).squeeze(2)  # (B, 3, hw)
    uv = picked[:, 1:] / picked[:, :1].clamp_min(1e-12)
    return _iuv(part.reshape(b, h, w), uv.reshape(b, 2, h, w).permute(0, 2, 3, 1))


def mask_background(iuv: torch.Tensor, fg_logit: torch.Tensor) -> torch.Tensor:
    """Zero I, U and V where the foreground logit is negative: (B, 3, h, w), (B, 1, h, w)."""
    return iuv * (fg_logit >= 0).to(iuv.dtype)


def decode_iuv(
    scores: torch.Tensor,
    fg_logit: torch.Tensor,
    topology: TopologyArrays,
    method: UVDecoder = "barycentric",
) -> torch.Tensor:
    """Dense IUV (B, 3, h, w) at the score-map resolution: I in 0..24 (0 = background) as
    float, U and V in [0, 1]. Costly on CPU (a softmax over V per pixel): call only when
    IUV output is wanted."""
    if method == "barycentric":
        iuv = decode_uv_barycentric(
            scores, topology.faces, topology.corner_part_uv, topology.face_part
        )
    elif method == "closest_vertex":
        iuv = decode_uv_closest_vertex(scores, topology.vertex_part, topology.vertex_part_uv)
    elif method == "global_average":
        iuv = decode_uv_global_average(scores, topology.vertex_part, topology.vertex_part_uv)
    else:
        raise ValueError(f"unknown UV decoder {method!r}; choose one of {UV_DECODERS}")
    return mask_background(iuv, fg_logit)
