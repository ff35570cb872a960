"""Is a predicted body mesh whole? One number: how far its worst edge is stretched.

A network that sees two people in one crop, or a person cut by the crop, can place part of
the body on the wrong person: the mesh then joins two people, or a limb stretches across the
frame. Such a mesh has an edge far longer than the template's edge scaled to the body's size.
The statistic (``edge_stretch``) is

    max_e (|v_a - v_b| - s * rest_e) / (s * template_height),   s = median_e |v_a - v_b| / rest_e

over the mesh's edges e = (a, b): how much longer than the template's the worst edge is, in
body heights. ``s`` is the mesh's own scale (the median edge ratio), so the number is unitless
and the same for near and far people; 3D vertices (x, y and relative depth) keep
foreshortening from hiding a stretch along the view. Measured (docs/pipeline.md) with the
shipped XS-BP on 147 meshes of COCO photos: median 0.15, 95th percentile 0.31, 99th 0.40; a
mesh pulled from one rider to the next on a crowded truck: 0.54. The pipeline does not draw
a mesh above ``STRETCH_LIMIT``.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

from .parts import PART_NAMES
from .topology import KEYPOINT_NAMES, LEVEL_SIZES, Topology

STRETCH_LIMIT = 0.4  # body heights


def edge_stretch(
    vertices: np.ndarray, edges: np.ndarray, rest_lengths: np.ndarray, rest_height: float
) -> float:
    """Largest stretch of an edge beyond its scaled template length, in body heights (0 for
    the template itself at any scale).

    Args:
        vertices: (V, D) posed mesh (D = 2 or 3), any unit (image px and relative depth).
        edges: (E, 2) vertex indices of the mesh's edges.
        rest_lengths: (E,) the template's length of each edge (> 0).
        rest_height: the template's height (its largest extent), in the rest lengths' unit.
    Returns:
        the stretch; inf for a mesh collapsed to a point or with a non-finite vertex.
    """
    if edges.ndim != 2 or edges.shape[1] != 2 or rest_lengths.shape != (edges.shape[0],):
        raise ValueError(f"edges {edges.shape} and rest lengths {rest_lengths.shape} do not fit")
    length = edge_lengths(vertices, edges)
    scale = body_scale(length, rest_lengths)
    if scale is None:
        return float("inf")
    return float((length - scale * rest_lengths).max() / (scale * rest_height))


def edge_lengths(vertices: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(V, D) vertices, (E, 2) edges -> (E,) float64 lengths."""
    length = np.empty(len(edges), np.float64)
    _edge_lengths(np.ascontiguousarray(vertices, np.float64), edges, length)
    return length


def body_scale(lengths: np.ndarray, rest_lengths: np.ndarray) -> float | None:
    """A mesh's own scale against the template: the median ratio of its (E,) edge lengths
    to the template's (E,); None for a mesh with a non-finite vertex or collapsed to a
    point (no scale: ``edge_stretch`` calls it infinitely stretched)."""
    if not np.isfinite(lengths).all():
        return None
    scale = float(np.median(lengths / rest_lengths))
    return scale if scale > 0 else None


@njit(cache=True, nogil=True)
def _edge_lengths(vertices: np.ndarray, edges: np.ndarray, out: np.ndarray) -> None:
    """(V, D) float64 vertices, (E, 2) edges -> out (E,) their lengths: the arithmetic of
    ``np.linalg.norm(v[a] - v[b], axis=1)`` (the same numbers), in one pass without its two
    (E, D) gathers (~5 us against ~80 for the 518-vertex body, once per person and frame)."""
    for e in range(edges.shape[0]):
        a, b = edges[e, 0], edges[e, 1]
        total = 0.0
        for c in range(vertices.shape[1]):
            d = vertices[a, c] - vertices[b, c]
            total += d * d
        out[e] = np.sqrt(total)


@functools.cache
def template_edges(level: str = "low") -> tuple[np.ndarray, np.ndarray, float]:
    """(E, 2) edges, (E,) rest lengths and the height of a topology level's template."""
    topo = Topology.load(level)  # type: ignore[arg-type]
    edges = topo.edges
    rest = np.linalg.norm(topo.vertices[edges[:, 0]] - topo.vertices[edges[:, 1]], axis=1)
    return edges, np.maximum(rest, 1e-9), float(np.ptp(topo.vertices, axis=0).max())


def mesh_stretch(vertices: np.ndarray) -> float:
    """``edge_stretch`` of a (V, 3) mesh of a topology level (chosen by V: 518 or 6890 ...)."""
    level = next((lv for lv, n in LEVEL_SIZES.items() if n == len(vertices)), None)
    if level is None:
        raise ValueError(f"no topology level has {len(vertices)} vertices")
    return edge_stretch(vertices, *template_edges(level))


def mesh_is_broken(vertices: np.ndarray, limit: float = STRETCH_LIMIT) -> bool:
    """Whether a predicted mesh (V, 3) should not be drawn: an edge stretched over ``limit``
    body heights longer than the template's."""
    return not mesh_stretch(vertices) <= limit


@functools.cache
def _leg_ends(
    level: str = "low",
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, float, int, int], ...]:
    """What ``mend_legs`` redraws, in order: per side the lower leg with its foot (from the
    knee, turned with the thigh), then the foot (from the ankle, turned with the shin).
    Each: the vertices redrawn (n,), the edges whose stretch decides it (m,: touching the
    lower leg but not the foot, resp. touching the foot), the template's vertices as
    offsets from the root keypoint (n, 3) in image axes (x right, y down, z away), the
    template's direction of the turning segment (radians, image axes), and the root and
    the segment's start keypoints."""
    topo = Topology.load(level)  # type: ignore[arg-type]
    edges = template_edges(level)[0]
    rest_kp = topo.keypoints(topo.vertices)
    image_axes = np.array([1.0, -1.0, -1.0])  # the template's y is up and z faces the camera
    kp = KEYPOINT_NAMES.index

    def part(*names: str) -> np.ndarray:
        return np.flatnonzero(np.isin(topo.vertex_part, [PART_NAMES.index(n) + 1 for n in names]))

    out = []
    for s in ("left", "right"):
        foot = part(f"{s}_foot")
        shin = part(f"lower_leg_{s}_back", f"lower_leg_{s}_front")
        on_shin, on_foot = np.isin(edges, shin).any(axis=1), np.isin(edges, foot).any(axis=1)
        for moved, touching, root, start in (
            # the shin's own edges and those to the thigh: a stray foot alone is the next's
            (np.concatenate([shin, foot]), on_shin & ~on_foot, kp(f"{s}_knee"), kp(f"{s}_hip")),
            (foot, on_foot, kp(f"{s}_ankle"), kp(f"{s}_knee")),
        ):
            touching = np.flatnonzero(touching)
            offsets = (topo.vertices[moved] - rest_kp[root]) * image_axes
            seg = (rest_kp[root] - rest_kp[start]) * image_axes
            out.append((moved, touching, offsets, float(np.arctan2(seg[1], seg[0])), root, start))
    return tuple(out)


def mend_legs(vertices: np.ndarray, limit: float = STRETCH_LIMIT) -> np.ndarray:
    """Lower legs and feet the network could not place, redrawn from the knee or the ankle.

    A person the crop shows only down to the waist (a webcam user at a desk) leaves the
    heatmaps of the knees, ankles, heels and toes little or nothing to find: the ends of a
    shin or a foot land far apart, its edges stretch past ``limit``, and the guard withheld
    the whole mesh (on four webcam clips 8-35 % of the frames; with BlazePose's detector,
    whose crops hold the whole body, nearly all frames of one clip). Such a lower leg (with
    its foot) is replaced by the template's, straight on from the thigh, and such a foot by
    the template's, turned with the shin: scaled to the body (the median edge ratio, as
    ``edge_stretch``), at the mesh's knee or ankle. Meshes whose legs are whole are returned
    unchanged.

    Args:
        vertices: (B, 518, 3) low-poly meshes, x, y px (y down) and depth (larger: farther).
        limit: stretch (body heights, ``edge_stretch``) of the edges touching a lower leg
            or a foot above which it is redrawn.

    Returns:
        (B, 518, 3) float32, a copy where something was redrawn, else the input.
    """
    edges, rest, height = template_edges("low")
    low = Topology.load("low")
    out = vertices
    for b in range(len(vertices)):
        length = edge_lengths(vertices[b], edges)
        scale = body_scale(length, rest)
        if scale is None:
            continue
        redrawn = False
        for moved, touching, offsets, rest_angle, root, start in _leg_ends("low"):
            if redrawn:  # an earlier redraw of this mesh moved some of these edges
                length = edge_lengths(out[b], edges)
            if (length[touching] - scale * rest[touching]).max() <= limit * scale * height:
                continue
            if out is vertices:
                out = np.array(vertices, np.float32, copy=True)
            redrawn = True
            # the root keypoint is partly the redrawn vertices' own: place them, read the
            # root again, three times (a stray part's pull shrinks to a few % of it)
            for _ in range(3):
                keypoints = low.keypoints(out[b].astype(np.float64))
                seg = keypoints[root, :2] - keypoints[start, :2]
                turn = np.arctan2(seg[1], seg[0]) - rest_angle if np.hypot(*seg) > 1e-6 else 0.0
                c, s = np.cos(turn), np.sin(turn)
                turned = offsets[:, :2] @ np.array([[c, s], [-s, c]])
                out[b, moved, :2] = keypoints[root, :2] + scale * turned
                out[b, moved, 2] = keypoints[root, 2] + scale * offsets[:, 2]
    return out
