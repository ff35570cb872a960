"""Pure-numpy z-buffer rasteriser: the fallback when no OpenGL context can be created.

Same output as the GL backend (see ``raster``'s conventions). Vectorised over triangles: the
triangles are grouped by the size of their pixel bounding box (rounded up to powers of two), and
each group tests all its candidate pixel centres at once; the nearest candidate per pixel then
wins via one sort. No Python loop runs per pixel or per triangle.

Coverage uses exact integer edge functions on positions snapped to 1/2**SUBPIXEL_BITS px with a
top-left tie rule, like GPU rasterisers; barycentrics and depth come from the unsnapped
positions (float64), like GL's attribute interpolation.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .raster import SUBPIXEL_BITS, Fragments, PreparedMesh, Rasterizer

# Upper bound on candidate pixels tested at once (a few bytes each while testing).
_CHUNK_CANDIDATES = 1 << 20


def _next_pow2(n: np.ndarray) -> np.ndarray:
    """Smallest power of two >= n, elementwise, for n >= 1."""
    return (1 << np.ceil(np.log2(n)).astype(np.int64)).astype(np.int64)


def _setup_triangles(
    mesh: PreparedMesh, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Snap, bound and filter one mesh's triangles.

    Returns:
        face indices (T,) of the triangles that may cover a pixel, their float64 corners
        (T, 3, 3), snapped integer xy corners (T, 3, 2) int64 and pixel boxes (T, 4) int64 as
        (col0, row0, col1, row1) inclusive.
    """
    faces = np.arange(len(mesh.faces))
    if mesh.drawable is not None:
        faces = faces[mesh.drawable]
    tri = mesh.vertices[mesh.faces[faces]].astype(np.float64)  # (T, 3, 3)
    one = float(1 << SUBPIXEL_BITS)
    # Snapped positions relative to pixel centres: pixel c's centre is at fixed-point c * one.
    snapped = np.rint(tri[:, :, :2] * one - one / 2).astype(np.int64)
    lo = snapped.min(axis=1)
    hi = snapped.max(axis=1)
    # Pixels whose centre (c * one) lies within [lo, hi].
    c0 = -((-lo) // int(one))  # ceil division
    c1 = hi // int(one)
    box = np.concatenate([c0, c1], axis=1)  # (col0, row0, col1, row1)
    box[:, 0] = np.maximum(box[:, 0], 0)
    box[:, 1] = np.maximum(box[:, 1], 0)
    box[:, 2] = np.minimum(box[:, 2], width - 1)
    box[:, 3] = np.minimum(box[:, 3], height - 1)
    e1 = snapped[:, 1] - snapped[:, 0]
    e2 = snapped[:, 2] - snapped[:, 0]
    area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]  # zero: no pixel is inside
    keep = (box[:, 0] <= box[:, 2]) & (box[:, 1] <= box[:, 3]) & (area != 0)
    return faces[keep], tri[keep], snapped[keep], box[keep]


def _groups(box: np.ndarray) -> Iterator[tuple[np.ndarray, int, int]]:
    """Triangle index sets sharing a power-of-two box size: (indices, rows, cols), chunked."""
    cols = _next_pow2(box[:, 2] - box[:, 0] + 1)
    rows = _next_pow2(box[:, 3] - box[:, 1] + 1)
    key = rows * (1 << 32) + cols
    order = np.argsort(key, kind="stable")
    uniq, starts = np.unique(key[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    for k, s, e in zip(uniq, starts, ends, strict=True):
        r, c = int(k >> 32), int(k & 0xFFFFFFFF)
        step = max(1, _CHUNK_CANDIDATES // (r * c))
        for i in range(s, e, step):
            yield order[i : min(e, i + step)], r, c


def _edge_setup(snapped: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer edge functions of every triangle, relative to its box origin.

    Edge k (opposite corner k) is ``w_k(p) = cross(b - a, p - a)`` for its end points ``a, b``,
    oriented so that it is positive inside. A pixel ``(row0 + i, col0 + j)`` is covered iff
    ``w0[:, k] + dy[:, k] * i + dx[:, k] * j >= 0`` for all three k; the top-left tie rule is
    folded into ``w0`` (minus 1 for edges that do not own their ties).

    Returns:
        w0, dy, dx: (T, 3) int64 each.
    """
    one = 1 << SUBPIXEL_BITS
    e1 = snapped[:, 1] - snapped[:, 0]
    e2 = snapped[:, 2] - snapped[:, 0]
    sign = np.sign(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    origin_x = box[:, 0] * one
    origin_y = box[:, 1] * one
    w0 = np.empty((len(box), 3), np.int64)
    dy = np.empty_like(w0)
    dx = np.empty_like(w0)
    for k in range(3):
        a = snapped[:, (k + 1) % 3]
        b = snapped[:, (k + 2) % 3]
        ex = (b[:, 0] - a[:, 0]) * sign
        ey = (b[:, 1] - a[:, 1]) * sign
        # Inward normal (-ey, ex): edges with the inside to the right (+x), or below (+y) when
        # horizontal, are top-left in image space and own the pixel centres exactly on them.
        owns = (ey < 0) | ((ey == 0) & (ex > 0))
        w0[:, k] = ex * (origin_y - a[:, 1]) - ey * (origin_x - a[:, 0]) - (~owns)
        dy[:, k] = ex * one
        dx[:, k] = -ey * one
    return w0, dy, dx


def _depth_planes(tri: np.ndarray) -> np.ndarray:
    """(T, 3) float64 (z at the first corner's xy, dz/dx, dz/dy) of each triangle's plane."""
    f1 = tri[:, 1] - tri[:, 0]
    f2 = tri[:, 2] - tri[:, 0]
    area = f1[:, 0] * f2[:, 1] - f1[:, 1] * f2[:, 0]
    area = np.where(area == 0, np.inf, area)
    dzdx = (f1[:, 2] * f2[:, 1] - f2[:, 2] * f1[:, 1]) / area
    dzdy = (f2[:, 2] * f1[:, 0] - f1[:, 2] * f2[:, 0]) / area
    return np.stack([tri[:, 0, 2], dzdx, dzdy], axis=1)


def _covered_pixels(
    mesh: PreparedMesh, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (pixel, face) pair one mesh covers, with the face's depth at the pixel centre.

    Returns:
        pix (N,) int64 flat pixel index, face (N,) int64 face index, z (N,) float32 depth.
    """
    faces, tri, snapped, box = _setup_triangles(mesh, width, height)
    if not len(faces):
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    w0, dy, dx = _edge_setup(snapped, box)
    plane = _depth_planes(tri)
    pix, face, z = [], [], []
    for idx, rows, cols in _groups(box):
        gy = np.arange(rows)
        gx = np.arange(cols)
        # Separable tests: (n, rows, 1) against (n, 1, cols), broadcast once per edge.
        inside = (gy[None, :] <= (box[idx, 3] - box[idx, 1])[:, None])[:, :, None] & (
            gx[None, :] <= (box[idx, 2] - box[idx, 0])[:, None]
        )[:, None, :]
        for k in range(3):
            row = w0[idx, k, None] + dy[idx, k, None] * gy[None, :]
            col = dx[idx, k, None] * gx[None, :]
            inside &= row[:, :, None] >= -col[:, None, :]
        t, yy, xx = np.nonzero(inside)
        if not len(t):
            continue
        ti = idx[t]
        col_px = xx + box[ti, 0]
        row_px = yy + box[ti, 1]
        pl = plane[ti]
        zz = (
            pl[:, 0]
            + pl[:, 1] * (col_px + 0.5 - tri[ti, 0, 0])
            + pl[:, 2] * (row_px + 0.5 - tri[ti, 0, 1])
        )
        pix.append(row_px * width + col_px)
        face.append(faces[ti])
        z.append(zz.astype(np.float32))
    if not pix:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    return np.concatenate(pix), np.concatenate(face), np.concatenate(z)


def _nearest_per_pixel(pix: np.ndarray, z: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """Indices of the winning candidate of every covered pixel.

    Smallest z wins; on equal z the smallest draw order (mesh, then face), like GL's ``<``
    depth test. One unstable sort of a packed (pixel, z rank, draw) integer key when it fits
    in 63 bits, otherwise a (slower) lexsort.
    """
    z_order = np.argsort(z)
    zs = z[z_order]
    dense = np.empty(len(z), np.int64)
    dense[z_order] = np.concatenate([[0], np.cumsum(zs[1:] != zs[:-1])])
    bits_z = max(int(dense.max(initial=0)).bit_length(), 1)
    bits_d = max(int(draw.max(initial=0)).bit_length(), 1)
    bits_p = max(int(pix.max(initial=0)).bit_length(), 1)
    if bits_p + bits_z + bits_d <= 63:
        key = (pix << (bits_z + bits_d)) | (dense << bits_d) | draw
        srt = np.argsort(key)
    else:
        srt = np.lexsort((draw, dense, pix))
    ps = pix[srt]
    first = np.ones(len(ps), bool)
    first[1:] = ps[1:] != ps[:-1]
    return srt[first]


def barycentrics(
    vertices: np.ndarray, faces: np.ndarray, pix: np.ndarray, width: int
) -> np.ndarray:
    """(N, 3) float32 barycentrics of the centres of flat pixels ``pix`` in triangles ``faces``
    ((N, 3) vertex indices), from the unsnapped float positions."""
    tri = vertices[faces][:, :, :2].astype(np.float64)
    cx = pix % width + 0.5 - tri[:, 0, 0]
    cy = pix // width + 0.5 - tri[:, 0, 1]
    f1 = tri[:, 1] - tri[:, 0]
    f2 = tri[:, 2] - tri[:, 0]
    area = f1[:, 0] * f2[:, 1] - f1[:, 1] * f2[:, 0]
    area = np.where(area == 0, np.inf, area)
    b1 = (cx * f2[:, 1] - cy * f2[:, 0]) / area
    b2 = (f1[:, 0] * cy - f1[:, 1] * cx) / area
    return np.stack([1.0 - b1 - b2, b1, b2], axis=1).astype(np.float32)


def rasterize_cpu(
    meshes: list[PreparedMesh], width: int, height: int, out: Fragments | None = None
) -> Fragments:
    """Rasterise validated meshes (see ``raster.prepare_meshes``) with a numpy z-buffer,
    into ``out`` (C-contiguous, that size) or new fragments."""
    pix, z, draw, mesh_of = [], [], [], []
    order_base = 0
    for mesh_index, mesh in enumerate(meshes):
        p, f, zz = _covered_pixels(mesh, width, height)
        pix.append(p)
        z.append(zz)
        draw.append(order_base + f)
        mesh_of.append(np.full(len(p), mesh_index, np.int32))
        order_base += len(mesh.faces)
    frags = Fragments.empty(width, height) if out is None else out
    frags.fill_background()
    all_pix = np.concatenate(pix)
    if not len(all_pix):
        return frags
    all_draw = np.concatenate(draw)
    all_z = np.concatenate(z)
    win = _nearest_per_pixel(all_pix, all_z, all_draw)
    win_mesh = np.concatenate(mesh_of)[win]
    offsets = np.cumsum([0] + [len(m.faces) for m in meshes])
    win_face = all_draw[win] - offsets[win_mesh]
    write_faces(meshes, all_pix[win], win_mesh, win_face, width, frags, all_z[win])
    return frags


def write_faces(
    meshes: list[PreparedMesh],
    pix: np.ndarray,
    mesh_of: np.ndarray,
    face_of: np.ndarray,
    width: int,
    out: Fragments,
    depth: np.ndarray | None = None,
) -> None:
    """Fragments of the flat pixels ``pix`` (N,), each showing face ``face_of`` (N,) of mesh
    ``mesh_of`` (N,): ids, barycentrics of the pixel centre, and ``depth`` (N,) where the
    caller has it, else the corners' z interpolated. Other pixels of ``out`` are left as
    they are."""
    out.mesh_id.reshape(-1)[pix] = mesh_of
    out.face_id.reshape(-1)[pix] = face_of
    if depth is not None:
        out.depth.reshape(-1)[pix] = depth
    bary, flat_depth = out.bary.reshape(-1, 3), out.depth.reshape(-1)
    for mesh_index, mesh in enumerate(meshes):
        sel = np.flatnonzero(mesh_of == mesh_index)
        if not len(sel):
            continue
        corners = mesh.faces[face_of[sel]]
        b = barycentrics(mesh.vertices, corners, pix[sel], width)
        bary[pix[sel]] = b
        if depth is None:
            flat_depth[pix[sel]] = np.einsum("nk,nk->n", b, mesh.vertices[corners, 2])


class CpuRasterizer(Rasterizer):
    """Stateless pure-numpy rasteriser; safe to use from any thread."""

    name = "cpu"

    def _rasterize(
        self, meshes: list[PreparedMesh], width: int, height: int, out: Fragments
    ) -> None:
        rasterize_cpu(meshes, width, height, out)
