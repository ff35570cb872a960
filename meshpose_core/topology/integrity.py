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
    length = np.empty(len(edges), np.float64)
    _edge_lengths(np.ascontiguousarray(vertices, np.float64), edges, length)
    if not np.isfinite(length).all():
        return float("inf")
    scale = float(np.median(length / rest_lengths))
    if scale <= 0:
        return float("inf")
    return float((length - scale * rest_lengths).max() / (scale * rest_height))


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
def _feet(
    level: str = "low",
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, float, int, int], ...]:
    """Per foot of a topology level: its vertices (n,), the edges touching them (m,), the
    template foot's offsets from its ankle (n, 3) in image axes (x right, y down, z away),
    the template shin's direction (radians, image axes), the ankle's and knee's keypoints."""
    topo = Topology.load(level)  # type: ignore[arg-type]
    edges = template_edges(level)[0]
    rest_kp = topo.keypoints(topo.vertices)
    image_axes = np.array([1.0, -1.0, -1.0])  # the template's y is up and z faces the camera
    out = []
    for side in ("left", "right"):
        foot = np.flatnonzero(topo.vertex_part == PART_NAMES.index(f"{side}_foot") + 1)
        touching = np.flatnonzero(np.isin(edges, foot).any(axis=1))
        ankle, knee = KEYPOINT_NAMES.index(f"{side}_ankle"), KEYPOINT_NAMES.index(f"{side}_knee")
        offsets = (topo.vertices[foot] - rest_kp[ankle]) * image_axes
        shin = (rest_kp[ankle] - rest_kp[knee]) * image_axes
        out.append((foot, touching, offsets, float(np.arctan2(shin[1], shin[0])), ankle, knee))
    return tuple(out)


def mend_feet(vertices: np.ndarray, limit: float = STRETCH_LIMIT) -> np.ndarray:
    """Feet the network could not place, redrawn at their ankles.

    A person the crop shows only down to the waist (a webcam user at a desk) leaves the
    heatmaps of the ankles, heels and toes nothing to find: the two ends of a foot land far
    apart, and its edges stretch past ``limit``, so the guard withheld the whole mesh (on
    four webcam clips 8-35 % of the frames, 40 of every 44 such meshes for a foot). Such a
    foot is replaced by the template's, scaled to the body (the median edge ratio, as
    ``edge_stretch``) and turned with the shin, at the mesh's ankle; meshes whose feet are
    whole are returned unchanged.

    Args:
        vertices: (B, 518, 3) low-poly meshes, x, y px (y down) and depth (larger: farther).
        limit: stretch (body heights, ``edge_stretch``) of the edges touching a foot above
            which it is redrawn.

    Returns:
        (B, 518, 3) float32, a copy where a foot was redrawn, else the input.
    """
    edges, rest, height = template_edges("low")
    out = vertices
    for b in range(len(vertices)):
        v = np.asarray(vertices[b], np.float64)
        length = np.empty(len(edges), np.float64)
        _edge_lengths(v, edges, length)
        scale = float(np.median(length / rest))
        if not np.isfinite(length).all() or scale <= 0:
            continue
        stretch = (length - scale * rest) / (scale * height)
        for foot, touching, offsets, rest_angle, ankle, knee in _feet("low"):
            if stretch[touching].max() <= limit:
                continue
            if out is vertices:
                out = np.array(vertices, np.float32, copy=True)
            # the ankle keypoint is 30 % the foot's own vertices: place the foot, read the
            # ankle again, three times (the stray foot's pull shrinks to 3 % of it)
            for _ in range(3):
                keypoints = Topology.load("low").keypoints(out[b].astype(np.float64))
                shin = keypoints[ankle, :2] - keypoints[knee, :2]
                turn = np.arctan2(shin[1], shin[0]) - rest_angle if np.hypot(*shin) > 1e-6 else 0.0
                c, s = np.cos(turn), np.sin(turn)
                turned = offsets[:, :2] @ np.array([[c, s], [-s, c]])
                out[b, foot, :2] = keypoints[ankle, :2] + scale * turned
                out[b, foot, 2] = keypoints[ankle, 2] + scale * offsets[:, 2]
    return out
