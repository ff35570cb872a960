"""Fragments of closed bodies and open garments rasterised by compiled CPU loops (numba): the
one fragment pass every painted layer shares where OpenGL runs on the CPU (llvmpipe) or not
at all.

llvmpipe is a general pipeline: every triangle goes through vertex fetch, clipping, setup and
binning into tiles that worker threads then rasterise, ~0.12 µs a triangle on two cores
whatever its size; a body of 13,776 triangles a few pixels each on screen is the worst case
for that design, and reading four attachments back costs per pixel. This loop does only what
the layers need, in one thread: back faces of closed meshes skipped by the sign of their
screen area before any other work, each drawn triangle walked row by row over the span
inside its three edges, depth-tested, and its mesh id, face id, barycentrics and depth
written to ``Fragments``. The painters (``surface_paint``, ``tryon.cpu_paint``) then colour
each covered pixel once, in compiled loops too.

Conventions are the ``raster`` module's (pixel centres sampled, smaller depth nearer, flat
ids exact), with two differences: closed meshes are drawn with their back faces culled
(outside clockwise in image coordinates), and pixels exactly on a triangle's edge count as
inside (OpenGL's top-left rule decides such ties one way; a pixel centre falls exactly on an
edge only in synthetic scenes). Non-finite faces are not drawn.

The loop compiles on first use (~1.5 s; numba caches the machine code next to this file when
it can write there, then loading takes ~0.1 s): ``compile_now`` does it when a painter is
created, not on the first frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from .raster import Fragments

# fast-math without the no-NaN / no-inf assumptions: the finiteness tests must stay
FAST_MATH = {"nsz", "arcp", "contract", "reassoc", "afn"}


@njit(cache=True, nogil=True, fastmath=FAST_MATH)
def rasterize_faces(
    vertices: np.ndarray,  # (V, 3) float32 renderer px (pixel centres at +0.5), z depth
    faces: np.ndarray,  # (F, 3) int32
    origin_x: float,  # renderer x of the rectangle's column 0 (its pixel centre)
    origin_y: float,
    order_a: float,  # depth = z * order_a + order_b, smaller is nearer
    order_b: float,
    mesh_index: int,
    cull: bool,  # draw front faces only (closed meshes); else both sides
    mesh_id: np.ndarray,  # (h, w) int32, -1 where empty
    face_id: np.ndarray,  # (h, w) int32
    bary: np.ndarray,  # (h, w, 3) float32, in faces[f] corner order
    depth: np.ndarray,  # (h, w) float32, +inf where empty
) -> None:
    """One mesh (vertices (V, 3) renderer px, faces (F, 3)) into the (h, w) fragments,
    depth-tested against what is there."""
    h, w = depth.shape
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        ax = np.float64(vertices[a, 0]) - origin_x
        ay = np.float64(vertices[a, 1]) - origin_y
        bx = np.float64(vertices[b, 0]) - origin_x
        by = np.float64(vertices[b, 1]) - origin_y
        cx = np.float64(vertices[c, 0]) - origin_x
        cy = np.float64(vertices[c, 1]) - origin_y
        # the outside is clockwise in image coordinates: a front face has negative area here
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        # ordered comparisons only: fast-math let NaN through ``np.isfinite`` here, while a
        # comparison with NaN or inf is false whatever the flags
        if not abs(area) < np.inf or area == 0.0:
            continue
        swap = area > 0.0  # a back face: walked with b and c swapped, weights swapped back
        if swap:
            if cull:
                continue
            b, c = c, b
            bx, by, cx, cy = cx, cy, bx, by
        else:
            area = -area
        # bounds clamped to the rectangle before the conversion to int (far vertices)
        y0 = int(np.ceil(max(min(ay, by, cy), 0.0)))
        y1 = int(np.floor(min(max(ay, by, cy), h - 1.0)))
        x_lo = int(np.ceil(max(min(ax, bx, cx), 0.0)))
        x_hi = int(np.floor(min(max(ax, bx, cx), w - 1.0)))
        if y0 > y1 or x_lo > x_hi:
            continue
        inv = 1.0 / area
        # edge functions e_i(x, y) = p_i x + q_i y + r_i, >= 0 inside, summing to ``area``;
        # barycentric weight of corner i = e_i / area (e_0 is opposite corner a)
        p0, q0 = cy - by, bx - cx
        r0 = -(p0 * bx + q0 * by)
        p1, q1 = ay - cy, cx - ax
        r1 = -(p1 * cx + q1 * cy)
        p2, q2 = by - ay, ax - bx
        r2 = -(p2 * ax + q2 * ay)
        za = vertices[a, 2] * order_a + order_b
        zb = vertices[b, 2] * order_a + order_b
        zc = vertices[c, 2] * order_a + order_b
        for y in range(y0, y1 + 1):
            lo, hi = x_lo, x_hi  # the span of this row inside all three edges
            for p, q, r in ((p0, q0, r0), (p1, q1, r1), (p2, q2, r2)):
                s = q * y + r
                if p > 0.0:
                    lo = max(lo, int(np.ceil(min(-s / p, w))))
                elif p < 0.0:
                    hi = min(hi, int(np.floor(max(-s / p, -1.0))))
                elif s < 0.0:
                    hi = lo - 1
            for x in range(lo, hi + 1):
                e0 = p0 * x + q0 * y + r0
                e1 = p1 * x + q1 * y + r1
                if e0 < 0.0 or e1 < 0.0 or e0 + e1 > area:  # rounding at the span's ends
                    continue
                l0 = e0 * inv
                l1 = e1 * inv
                l2 = 1.0 - l0 - l1
                z = l0 * za + l1 * zb + l2 * zc
                if z < depth[y, x]:
                    depth[y, x] = z
                    mesh_id[y, x] = mesh_index
                    face_id[y, x] = f
                    bary[y, x, 0] = l0
                    if swap:
                        bary[y, x, 1] = l2
                        bary[y, x, 2] = l1
                    else:
                        bary[y, x, 1] = l1
                        bary[y, x, 2] = l2


@dataclass(frozen=True, eq=False)
class FaceMesh:
    """One mesh to rasterise: vertices (V, 3) float32 in renderer px (pixel centres at
    +0.5; z relative depth), faces (F, 3) int32, order (a, b) of the depth test's
    ``z * a + b`` (smaller is nearer), cull: a closed mesh whose back faces are skipped."""

    vertices: np.ndarray
    faces: np.ndarray
    order: tuple[float, float] = (1.0, 0.0)
    cull: bool = True


def clear(frags: Fragments, full: bool = False) -> None:
    """Empty fragments, in place: the mesh ids (-1) and depth (+inf) that the loop and the
    painters read; ``full``: face ids and barycentrics too (``Fragments.fill_background``,
    for fragments handed to others). A frame-wide rectangle is megabytes: clear no more
    than needed."""
    if full:
        frags.fill_background()
    else:
        frags.mesh_id.fill(-1)
        frags.depth.fill(np.inf)


def rasterize_into(
    meshes: Sequence[FaceMesh], frags: Fragments, origin: tuple[int, int], first_id: int = 0
) -> Fragments:
    """Draw ``meshes`` into ``frags`` (not cleared: call ``clear`` first for a new picture),
    a rectangle whose top-left pixel is ``origin`` (row, col) of the frame; mesh k gets id
    ``first_id + k``. Returns ``frags``."""
    origin_x, origin_y = origin[1] + 0.5, origin[0] + 0.5
    for index, m in enumerate(meshes):
        rasterize_faces(
            np.ascontiguousarray(m.vertices, np.float32),
            np.ascontiguousarray(m.faces, np.int32),
            origin_x,
            origin_y,
            float(m.order[0]),
            float(m.order[1]),
            first_id + index,
            bool(m.cull),
            frags.mesh_id,
            frags.face_id,
            frags.bary,
            frags.depth,
        )
    return frags


def screen_boxes(
    vertices: Sequence[np.ndarray], origin: tuple[int, int], width: int, height: int
) -> np.ndarray:
    """(K, 4) int64 rows r0:r1 and columns c0:c1 of the ``width`` x ``height`` rectangle at
    ``origin`` (row, col) that each mesh's vertices (V, 3) in renderer px can cover: the
    painters visit only these, not a frame-wide rectangle that people far apart span."""
    out = np.zeros((len(vertices), 4), np.int64)
    shift = np.array([origin[1] + 0.5, origin[0] + 0.5])
    for k, v in enumerate(vertices):
        x, y = v[:, 0], v[:, 1]  # column by column: ~50x faster than along axis 0
        lo, hi = np.array([x.min(), y.min()]), np.array([x.max(), y.max()])
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):  # such faces are not drawn
            finite = v[np.isfinite(v[:, :2]).all(axis=1), :2]
            if not len(finite):
                continue
            lo, hi = finite.min(axis=0), finite.max(axis=0)
        c0, r0 = (int(a) for a in np.clip(np.floor(lo - shift), 0, (width, height)))
        c1, r1 = (int(a) for a in np.clip(np.ceil(hi - shift) + 1, 0, (width, height)))
        out[k] = (r0, max(r1, r0), c0, max(c1, c0))
    return out


def compile_now() -> None:
    """Compile (or load from numba's cache) the loop on a one-triangle scene now."""
    frags = Fragments.allocate(2, 2)
    clear(frags)
    tri = np.float32([[0, 0, 0], [0, 2, 0], [2, 0, 0]])
    rasterize_into([FaceMesh(tri, np.int32([[0, 1, 2]]))], frags, (0, 0))
