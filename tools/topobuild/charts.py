"""Per-part (U, V) charts in [0, 1], like DensePose's: each part is a topological disk that
is flattened by least-squares conformal maps (LSCM), V running along the part's axis."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from meshpose_core.topology.mesh_checks import uv_signed_areas


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Ordered boundary loops of an open triangle mesh (faces indexed locally)."""
    he = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    fwd = {(int(a), int(b)) for a, b in he}
    nxt = {a: b for a, b in fwd if (b, a) not in fwd}
    loops, seen = [], set()
    for start in nxt:
        if start in seen:
            continue
        loop, v = [], start
        while v not in seen:
            seen.add(v)
            loop.append(v)
            v = nxt[v]
        loops.append(np.array(loop))
    return loops


def _lscm(v: np.ndarray, f: np.ndarray, pin: tuple[int, int]) -> np.ndarray:
    """LSCM as Dirichlet energy minus signed UV area, two pinned vertices at (0,0), (0,1)."""
    n = len(v)
    # cotangent Laplacian
    rows, cols, vals = [], [], []
    for k in range(3):
        i, j, o = f[:, (k + 1) % 3], f[:, (k + 2) % 3], f[:, k]
        e1, e2 = v[i] - v[o], v[j] - v[o]
        cot = (e1 * e2).sum(1) / np.maximum(np.linalg.norm(np.cross(e1, e2), axis=1), 1e-20)
        rows += [i, j, i, j]
        cols += [j, i, i, j]
        vals += [-cot / 2, -cot / 2, cot / 2, cot / 2]
    L = sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    ).tocsr()
    # signed area 1/2 sum over boundary edges (u_i v_j - u_j v_i), as a quadratic form on [u; v]
    he = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    fwd = {(int(a), int(b)) for a, b in he}
    bnd = np.array([(a, b) for a, b in fwd if (b, a) not in fwd])
    a_r = np.concatenate([bnd[:, 0], bnd[:, 1]])
    a_c = np.concatenate([bnd[:, 1] + n, bnd[:, 0] + n])
    a_v = np.concatenate([np.full(len(bnd), 0.5), np.full(len(bnd), -0.5)])
    area = sp.coo_matrix((a_v, (a_r, a_c)), shape=(2 * n, 2 * n))
    area = (area + area.T) / 2
    Q = (sp.block_diag([L, L]) - area).tocsr()
    fixed = np.array([pin[0], pin[1], pin[0] + n, pin[1] + n])
    fixed_val = np.array([0.0, 0.0, 0.0, 1.0])
    free = np.setdiff1d(np.arange(2 * n), fixed)
    rhs = -Q[free][:, fixed] @ fixed_val
    x = np.zeros(2 * n)
    x[fixed] = fixed_val
    x[free] = spla.spsolve(Q[free][:, free].tocsc(), rhs)
    return np.stack([x[:n], x[n:]], axis=1)


def part_chart(
    vertices: np.ndarray, faces: np.ndarray, axis: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Flatten one part (a disk) to [0,1]^2 with V along `axis`.

    Returns (used vertex ids (n,), uv (n, 2), stats). Raises if the part is not a disk.
    """
    used, local = np.unique(faces, return_inverse=True)
    f = local.reshape(-1, 3)
    v = vertices[used]
    loops = boundary_loops(f)
    nedges = len(
        np.unique(
            np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1), axis=0
        )
    )
    euler = len(v) - nedges + len(f)
    if euler != 1 or len(loops) != 1:
        raise ValueError(f"part is not a disk (euler {euler}, {len(loops)} boundary loops)")
    s = v @ axis
    # Pins on the boundary (interior pins fold caps such as the hand), far apart along the
    # axis; the chart is then rotated so that V follows the axis, which keeps orientation.
    b = loops[0]
    pin = (int(b[np.argmin(s[b])]), int(b[np.argmax(s[b])]))
    uv = _lscm(v, f, pin)
    areas = uv_signed_areas(uv[f])
    if (areas < 0).sum() > (areas > 0).sum():
        uv[:, 0] = -uv[:, 0]
        areas = -areas
    grad, *_ = np.linalg.lstsq(np.c_[uv, np.ones(len(uv))], s, rcond=None)
    g = grad[:2] / np.linalg.norm(grad[:2])
    rot = np.array([[g[1], -g[0]], [g[0], g[1]]])  # maps g to +V, a proper rotation
    uv = uv @ rot.T
    uv = (uv - uv.min(0)) / (uv.max(0) - uv.min(0))
    return used, uv, {"flipped": int((areas <= 0).sum()), "faces": len(f)}
