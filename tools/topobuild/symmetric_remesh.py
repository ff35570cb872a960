"""Mirror-symmetric remeshing: simplify the left half of the (symmetrised) body, mirror it.

Building each level from one half makes the symmetry map exact (every vertex's partner is
its mirror image), which flip augmentation and mirrored garments rely on.
"""

from __future__ import annotations

import numpy as np

from meshpose_core.topology.mesh_checks import check_mesh

from .charts import boundary_loops
from .symmetry import MIRROR_X, symmetry_map


def symmetrise(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average each vertex with its partner's mirror image; midline vertices get x = 0.
    Returns (vertices, symmetry map)."""
    sym = symmetry_map(vertices)
    v = (vertices + vertices[sym] * MIRROR_X) / 2
    v[sym == np.arange(len(v)), 0] = 0.0
    return v, sym


def left_half(vertices: np.ndarray, faces: np.ndarray):
    """The x >= 0 half of a symmetric mesh cut along its midline edge loop: (v, f), an open
    disk whose single boundary loop lies on x = 0."""
    xs = vertices[faces][:, :, 0]
    if ((xs > 1e-9).any(1) & (xs < -1e-9).any(1)).any():
        raise RuntimeError("faces cross the midline; the mesh has no midline edge loop")
    keep = faces[(xs >= -1e-9).all(1)]
    used, inv = np.unique(keep, return_inverse=True)
    return vertices[used], inv.reshape(-1, 3)


def _split_edges(v: np.ndarray, f: np.ndarray, count: int, boundary: bool):
    """Split the `count` longest interior (or, if `boundary`, boundary) edges one at a time."""
    v = v.copy()
    f = f.copy()
    for _ in range(count):
        he = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        key = np.sort(he, axis=1)
        uniq, cnt = np.unique(key, axis=0, return_counts=True)
        cand = uniq[cnt == (1 if boundary else 2)]
        length = np.linalg.norm(v[cand[:, 0]] - v[cand[:, 1]], axis=1)
        a, b = cand[int(np.argmax(length))]
        m = len(v)
        v = np.vstack([v, (v[a] + v[b]) / 2])
        rows = np.nonzero(((f == a) | (f == b)).sum(1) == 2)[0]
        new = []
        for fi in rows:
            tri = f[fi].tolist()
            while {tri[0], tri[1]} != {a, b}:
                tri = tri[1:] + tri[:1]
            p, q, r = tri
            new += [[p, m, r], [m, q, r]]
        f = np.vstack([np.delete(f, rows, axis=0), np.asarray(new, f.dtype)])
    return v, f


def mirror_glue(hv: np.ndarray, hf: np.ndarray):
    """Left half (boundary on x = 0) -> closed symmetric mesh and its exact symmetry map."""
    loop = boundary_loops(hf)
    if len(loop) != 1:
        raise RuntimeError(f"half mesh has {len(loop)} boundary loops, expected 1")
    bnd = np.zeros(len(hv), bool)
    bnd[loop[0]] = True
    hv = hv.copy()
    hv[bnd, 0] = 0.0
    inner = np.nonzero(~bnd)[0]
    mirror_id = np.arange(len(hv))
    mirror_id[inner] = len(hv) + np.arange(len(inner))
    v = np.vstack([hv, hv[inner] * MIRROR_X])
    f = np.vstack([hf, mirror_id[hf][:, ::-1]])  # mirrored faces reverse their winding
    sym = np.arange(len(v))
    sym[inner] = mirror_id[inner]
    sym[mirror_id[inner]] = inner
    return v, f, sym


def symmetric_level(hv: np.ndarray, hf: np.ndarray, num_vertices: int, remesh_edge: float | None):
    """Closed genus-0 symmetric mesh with exactly `num_vertices` vertices from a left half."""
    import fast_simplification
    import gpytoolbox

    if remesh_edge is not None:
        hv, hf = gpytoolbox.remesh_botsch(
            hv.astype(np.float64), hf.astype(np.int32), i=10, h=remesh_edge, project=True
        )
    n_bnd = len(boundary_loops(hf)[0])
    for agg in (7.0, 5.0, 3.0, 8.0):
        for slack in (8, 16, 32, 64):
            half_target = (num_vertices + n_bnd) // 2 - slack
            dv, df = fast_simplification.simplify(
                hv.astype(np.float64),
                hf.astype(np.int32),
                target_count=2 * half_target - n_bnd - 2,  # faces of a disk: 2V - B - 2
                agg=agg,
                preserve_border=remesh_edge is None,
            )
            loops = boundary_loops(df)
            if len(loops) != 1:
                continue
            nb = len(loops[0])
            total = 2 * len(dv) - nb
            if total > num_vertices:
                continue
            # each interior split adds 2 vertices to the glued mesh, a boundary split 1
            dv, df = _split_edges(dv, df, (num_vertices - total) % 2, boundary=True)
            dv, df = _split_edges(dv, df, (num_vertices - total) // 2, boundary=False)
            v, f, sym = mirror_glue(dv, df.astype(np.int64))
            if len(v) == num_vertices and check_mesh(f, len(v)).ok:
                return v, f, sym
    raise RuntimeError(f"no symmetric closed genus-0 mesh of {num_vertices} vertices found")
