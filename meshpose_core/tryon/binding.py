"""Surface binding: garment vertices attached to the body surface so they follow any pose.

Each garment vertex is a weighted blend of K *anchors*. An anchor is a point on the body
(face index + barycentric coordinates) with a smooth local frame (tangent, bitangent,
normal) there, and the vertex's offset from that point expressed in the frame:

    posed = sum_k weight_k * (anchor point_k + scale * frame_k^T offset_k)

The normal is the barycentric blend of the vertex normals (smooth across faces, so a shell
offset along it does not facet); the tangent is the face's first edge made orthogonal to it.
``scale`` is the posed body's size relative to the rest template (pixels per metre for an
image-space mesh, ~1 for metric bodies), so offsets work in metres and in image pixels alike.
On the rest template the blend reproduces every bound vertex exactly (up to float rounding),
whatever the anchors: each anchor term alone already equals the vertex.

K = 1 for shells hugging the body; loose parts (a skirt hem) blend anchors on the hips and
both legs, so that they follow a weighted average instead of one leg.

The garment's rest surface normal is bound the same way (rotated by the frames, not
offset), so a posed garment is shaded without recomputing its normals each frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..render import vertex_normals


@dataclass(frozen=True, eq=False)
class SurfaceBinding:
    """N garment vertices bound to a body by K anchors each.

    face (N, K) int32, bary (N, K, 3) float32: anchor points on the body;
    offset (N, K, 3) float32: the vertex in each anchor's (tangent, bitangent, normal) frame,
    in rest-template units (metres); normal (N, K, 3) float32: the garment's unit rest
    normal in the same frames; weight (N, K) float32: rows sum to 1.
    """

    face: np.ndarray
    bary: np.ndarray
    offset: np.ndarray
    normal: np.ndarray
    weight: np.ndarray

    @property
    def num_vertices(self) -> int:
        return int(self.face.shape[0])


def surface_area(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Total area of a triangle mesh, vertices (V, 3), faces (F, 3) (units of ``vertices``
    squared)."""
    tri = np.asarray(vertices, np.float64)[faces]
    return float(
        0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
    )


def body_scale(vertices: np.ndarray, faces: np.ndarray, rest_area: float) -> float:
    """Size of a posed body, vertices (V, 3), relative to the rest template: sqrt of the area
    ratio of ``faces`` (F, 3) (e.g. the torso's; ``rest_area`` is their rest area).

    Area is pose-invariant to first order, so this is the person's size (a child ~0.7, an
    image-space body its pixels per metre) and not a local stretch that would squash a coat
    at the elbows.
    """
    return float(np.sqrt(surface_area(vertices, faces) / rest_area))


def _unit(x: np.ndarray) -> np.ndarray:
    """Normalise (3, ...) component-major vectors along axis 0."""
    return x / np.maximum(np.sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]), 1e-12)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of (3, ...) component-major vectors."""
    return np.stack(
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    )


def _frames(
    vertices: np.ndarray, faces: np.ndarray, normals: np.ndarray, face: np.ndarray,
    bary: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Anchor points and frame axes, component-major: point, tangent, bitangent, normal,
    each (3, ...) for ``face`` (...) and ``bary`` (..., 3).

    Component-major because every step is then an elementwise operation on contiguous
    arrays: reductions over a trailing axis of 3, and gathers of (V, 3) rows, are several
    times slower in numpy than gathers from the (3, V) transposes (this runs per garment per
    person per frame).
    """
    corners = np.take(faces, face.reshape(-1), axis=0)  # (M, 3)
    vt = np.ascontiguousarray(np.asarray(vertices).T)
    nt = np.ascontiguousarray(np.asarray(normals, vt.dtype).T)
    b = np.ascontiguousarray(np.asarray(bary, vt.dtype).reshape(-1, 3).T)  # (3, M)
    p = [np.take(vt, corners[:, i], axis=1) for i in range(3)]  # (3, M) per corner
    m = [np.take(nt, corners[:, i], axis=1) for i in range(3)]
    point = p[0] * b[0] + p[1] * b[1] + p[2] * b[2]
    n = _unit(m[0] * b[0] + m[1] * b[1] + m[2] * b[2])
    e = p[1] - p[0]
    t = _unit(e - (e[0] * n[0] + e[1] * n[1] + e[2] * n[2]) * n)
    shape = (3, *face.shape)
    return point.reshape(shape), t.reshape(shape), _cross(n, t).reshape(shape), n.reshape(shape)


def anchor_frames(
    vertices: np.ndarray,
    faces: np.ndarray,
    normals: np.ndarray,
    face: np.ndarray,
    bary: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Anchor points and their local frames.

    Args:
        vertices: (V, 3) body; faces: (F, 3); normals: (V, 3) unit vertex normals;
        face: (...,) int anchor faces; bary: (..., 3) barycentric coordinates.

    Returns:
        points (..., 3) and frames (..., 3, 3) (dtype of ``vertices``) whose rows are the
        unit tangent, bitangent and normal (a proper rotation).
    """
    point, t, bt, n = _frames(vertices, faces, normals, face, bary)
    frame = np.stack([np.moveaxis(a, 0, -1) for a in (t, bt, n)], axis=-2)
    return np.moveaxis(point, 0, -1), frame


def make_binding(
    vertices: np.ndarray,
    faces: np.ndarray,
    points: np.ndarray,
    point_normals: np.ndarray,
    face: np.ndarray,
    bary: np.ndarray,
    weight: np.ndarray,
) -> SurfaceBinding:
    """Bind garment ``points`` (N, 3) with unit normals ``point_normals`` (N, 3), given on
    the rest body ``vertices`` (V, 3), to the anchors ``face`` (N, K), ``bary`` (N, K, 3)
    with blend ``weight`` (N, K) (normalised here)."""
    v = np.asarray(vertices, np.float64)
    face = np.asarray(face, np.int64).reshape(len(points), -1)
    bary = np.asarray(bary, np.float64).reshape((*face.shape, 3))
    w = np.asarray(weight, np.float64).reshape(face.shape)
    w = w / w.sum(axis=1, keepdims=True)
    anchor, frame = anchor_frames(v, faces, vertex_normals(v, faces).astype(np.float64), face, bary)
    d = np.asarray(points, np.float64)[:, None, :] - anchor  # (N, K, 3)
    n = np.broadcast_to(np.asarray(point_normals, np.float64)[:, None, :], d.shape)
    return SurfaceBinding(
        face=face.astype(np.int32),
        bary=bary.astype(np.float32),
        offset=np.einsum("nkij,nkj->nki", frame, d).astype(np.float32),
        normal=np.einsum("nkij,nkj->nki", frame, n).astype(np.float32),
        weight=w.astype(np.float32),
    )


def pose_binding(
    binding: SurfaceBinding,
    vertices: np.ndarray,
    faces: np.ndarray,
    scale: float,
    normals: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Garment vertices and unit normals on a posed body, (N, 3) each.

    Args:
        binding: the garment's binding to this topology.
        vertices: (V, 3) posed body, any units (metres or image px, z along the view).
        faces: (F, 3) body faces.
        scale: posed body size relative to the rest template (``body_scale``).
        normals: (V, 3) unit vertex normals of ``vertices`` if already computed.

    The arithmetic runs in the dtype of ``vertices`` (float32 for speed per frame, float64
    for exactness checks).
    """
    if normals is None:
        normals = vertex_normals(vertices, faces)
    v = np.asarray(vertices)
    dtype = v.dtype.type
    point, t, bt, n = _frames(
        v, faces, normals.astype(v.dtype, copy=False), binding.face,
        binding.bary.astype(v.dtype, copy=False),
    )  # fmt: skip
    o = np.moveaxis(binding.offset, -1, 0).astype(v.dtype) * dtype(scale)  # (3, N, K)
    m = np.moveaxis(binding.normal, -1, 0).astype(v.dtype)
    moved = point + o[0] * t + o[1] * bt + o[2] * n  # (3, N, K)
    turned = m[0] * t + m[1] * bt + m[2] * n
    w = binding.weight.astype(v.dtype)
    pos = sum(w[:, k] * moved[..., k] for k in range(w.shape[1]))  # (3, N)
    nrm = sum(w[:, k] * turned[..., k] for k in range(w.shape[1]))
    return np.ascontiguousarray(pos.T), np.ascontiguousarray(_unit(nrm).T)


def interpolate_at_anchors(
    binding: SurfaceBinding, faces: np.ndarray, vertex_values: np.ndarray
) -> np.ndarray:
    """(V,) body per-vertex values (e.g. visibility) -> (N,) at the garment vertices, blended
    like the positions."""
    corners = np.take(faces, binding.face, axis=0)  # (N, K, 3)
    vals = np.take(np.asarray(vertex_values, np.float32), corners)
    return (binding.weight[..., None] * binding.bary * vals).sum(axis=(1, 2))


def closest_on_triangles(points: np.ndarray, tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closest point of each triangle to each point.

    Args:
        points: (..., 3); tri: (..., 3, 3) triangle corners (broadcast together).

    Returns:
        squared distance (...,) and barycentric coordinates (..., 3) of the closest point.
    """
    p = np.asarray(points, np.float64)
    a, b, c = (np.asarray(tri, np.float64)[..., i, :] for i in range(3))
    ab, ac = b - a, c - a
    n = np.cross(ab, ac)
    nn = np.maximum((n * n).sum(-1), 1e-30)
    ap = p - a
    # barycentrics of the projection onto the plane
    w1 = (np.cross(ap, ac) * n).sum(-1) / nn
    w2 = (np.cross(ab, ap) * n).sum(-1) / nn
    best_bary = np.stack([1 - w1 - w2, w1, w2], axis=-1)
    inside = (w1 >= 0) & (w2 >= 0) & (w1 + w2 <= 1)
    best_bary = np.where(inside[..., None], best_bary, np.nan)
    proj = a + w1[..., None] * ab + w2[..., None] * ac
    best_d = np.where(inside, ((p - proj) ** 2).sum(-1), np.inf)
    corners = (a, b, c)
    for i, j in ((0, 1), (1, 2), (2, 0)):
        e = corners[j] - corners[i]
        s = np.clip(((p - corners[i]) * e).sum(-1) / np.maximum((e * e).sum(-1), 1e-30), 0, 1)
        q = corners[i] + s[..., None] * e
        d = ((p - q) ** 2).sum(-1)
        bary = np.zeros(best_bary.shape)
        bary[..., i] = 1 - s
        bary[..., j] = s
        better = d < best_d
        best_d = np.where(better, d, best_d)
        best_bary = np.where(better[..., None], bary, best_bary)
    return best_d, best_bary


def closest_surface_points(
    vertices: np.ndarray,
    faces: np.ndarray,
    points: np.ndarray,
    candidate_faces: np.ndarray | None = None,
    k: int = 24,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closest point on a mesh (or on a subset of its faces) to each point.

    The ``k`` faces with the nearest centroids are tested exactly; enough for garment points
    within a few face sizes of a fine body mesh.

    Returns:
        face (N,) int64, bary (N, 3) float64, distance (N,) float64.
    """
    v = np.asarray(vertices, np.float64)
    cand = np.arange(len(faces)) if candidate_faces is None else np.asarray(candidate_faces)
    tri = v[faces[cand]]  # (C, 3, 3)
    k = min(k, len(cand))
    _, idx = cKDTree(tri.mean(axis=1)).query(np.asarray(points, np.float64), k=k)
    idx = idx.reshape(len(points), k)
    d2, bary = closest_on_triangles(np.asarray(points, np.float64)[:, None], tri[idx])
    best = np.argmin(d2, axis=1)
    rows = np.arange(len(points))
    return cand[idx[rows, best]], bary[rows, best], np.sqrt(d2[rows, best])
