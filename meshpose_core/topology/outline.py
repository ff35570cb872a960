"""The outline a person shows, from the body mesh: each part widened about its own bone.

The network predicts the body's surface (the fits it learns from are unclothed bodies),
but a person's outline is wider: clothes, hair, shoes. Against human-drawn outlines the
body mesh covers 0.60 of the person's area (median over 115 held-out COCO people), so
silhouette, IUV and boxes drawn from it are thin. The outline mesh moves every vertex away
from its part's bone axis in the image plane,

    v' = v + s_g * (v - p),   p = v's projection on the line through the bone's two ends,

with one scale ``s_g`` per part group (torso, head, upper arm, ...) fitted to people's
masks (``tools/fit_outline_margin.py``). Only the distance to the axis grows, so limbs get
wider and not longer, joints stay where they are, and scaling is equivariant to the person's
position, size and in-plane rotation. The displacements are averaged over mesh neighbours so
that parts widened about different axes meet without a seam. Depth is left as it is.

Given the person's foreground (the network's mask at its score-map resolution), the scales
are fitted to that person instead (``OutlineWidening(..., foreground=...)``): each side of
each part (left forearm, its outer and inner edge...) takes the scale that puts its outer
vertices on the mask's edge, found by marching outwards from the bone, so a long coat, a
skirt or loose hair widens just the parts they cover. A side the mask does not show (the
part is hidden, or the bone itself lies outside the mask) keeps the fixed scale, and no side
gets thinner than the body. The head's bone ends between the ears (``CAPPED_GROUPS``): its
crown, past that end, is a side of its own whose vertices move away from the end itself, so
hair above the head is reached too; without the mask's evidence the crown keeps the line's
rule (widened sideways only).

A side's scale is a median, so part of its rim still stops short of the mask (and neighbour
averaging, which keeps parts from meeting at a seam, pulls the rim in further): each rim
vertex (one whose first step outwards leaves the mesh's silhouette) then moves on along its
ray to the mask's edge (``rim_pushes``), at most ``RIM_REACH`` of the person's extent, and
never into another part of the same mesh, so a gap between an arm and the torso that the
mask fills is closed by both rims meeting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .parts import PART_NAMES
from .topology import KEYPOINT_NAMES, Topology

# group: the parts it holds (names without the side) and the keypoints whose means are its
# axis's two ends ("{s}" is the part's own side; unsided ends take both sides' mean)
OUTLINE_GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "torso": (("torso_back", "torso_front"), ("left_hip", "right_hip"),
              ("left_shoulder", "right_shoulder")),
    "head": (("head_{s}",), ("left_shoulder", "right_shoulder"), ("left_ear", "right_ear")),
    "upper_arm": (("upper_arm_{s}_inside", "upper_arm_{s}_outside"), ("{s}_shoulder",),
                  ("{s}_elbow",)),
    "lower_arm": (("lower_arm_{s}_inside", "lower_arm_{s}_outside"), ("{s}_elbow",),
                  ("{s}_wrist",)),
    "hand": (("{s}_hand",), ("{s}_elbow",), ("{s}_wrist",)),
    "upper_leg": (("upper_leg_{s}_back", "upper_leg_{s}_front"), ("{s}_hip",), ("{s}_knee",)),
    "lower_leg": (("lower_leg_{s}_back", "lower_leg_{s}_front"), ("{s}_knee",),
                  ("{s}_ankle",)),
    "foot": (("{s}_foot",), ("{s}_ankle",), ("{s}_big_toe", "{s}_small_toe")),
}  # fmt: skip
GROUP_NAMES: tuple[str, ...] = tuple(OUTLINE_GROUPS)
# groups whose bone ends at the body's end: a vertex beyond the axis's end is measured from
# that end (radially) instead of from the line, so the crown grows with the hair as the
# sides do; on the line alone the crown sat on the axis and never moved, and a webcam
# close-up's head mesh stopped at the eyebrows
CAPPED_GROUPS: tuple[str, ...] = ("head",)
SMOOTH_STEPS = 3  # neighbour averages of the displacements (each halves a seam's step)
# where the mask's edge is looked for along each vertex's ray from its bone, in units of the
# vertex's own distance from the bone (1 = the body's surface)
FIT_STEPS = np.arange(0.5, 3.5 + 1e-6, 0.125, dtype=np.float32)
FIT_RANGE = (0.0, 2.5)  # fitted scales: never thinner than the body, at most 3.5x as wide
# a ray enters another part's ground where that part's bone is nearer than this fraction of
# the distance to its own (1: the half-way line between the bones). Held-out outlined IoU
# falls with it (no limit 0.471, 0.3: 0.451, 1: 0.429: clothes between the torso and a
# hanging arm are lost), but without it a torso beside a raised arm swells along the arm
TERRITORY = 0.3
# how far the rim may then move on to the mask's edge, as a fraction of the person's extent
# (the larger side of their keypoints' box). Held-out IoU of the people found 0.514 (none),
# 0.545 (0.05), 0.561 (0.12), 0.566 (0.2); at 0.2 the crowd benchmark withholds more meshes
# as broken (14 -> 18; 0.12: 11), the rim reaching neighbours' masks
RIM_REACH = 0.12


@dataclass(frozen=True)
class PartAxes:
    """Per vertex of one mesh level: its group (V,) int64 index into ``GROUP_NAMES`` and the
    keypoint mixes (V, K) float32 whose products with the keypoints give its axis's two ends
    (rows sum to one)."""

    group: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @property
    def capped(self) -> np.ndarray:
        """(V,) bool: the vertex's group ends at its axis's end (``CAPPED_GROUPS``)."""
        return np.isin(self.group, [GROUP_NAMES.index(g) for g in CAPPED_GROUPS])


def _keypoint_mix(names: tuple[str, ...], side: str) -> np.ndarray:
    """(K,) float32 weights averaging the named keypoints, ``{s}`` filled with ``side``."""
    row = np.zeros(len(KEYPOINT_NAMES), np.float32)
    for name in names:
        row[KEYPOINT_NAMES.index(name.format(s=side))] += 1.0 / len(names)
    return row


def part_axes(vertex_part: np.ndarray) -> PartAxes:
    """(V,) DensePose I index (1..24) of each vertex -> its group and bone axis."""
    rows: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}
    for g, (parts, start, end) in enumerate(OUTLINE_GROUPS.values()):
        for side in ("left", "right"):
            for part in parts:
                rows[PART_NAMES.index(part.format(s=side)) + 1] = (
                    g,
                    _keypoint_mix(start, side),
                    _keypoint_mix(end, side),
                )
    missing = set(np.unique(vertex_part).tolist()) - rows.keys()
    if missing:
        raise ValueError(f"parts {sorted(missing)} have no outline group")
    group = np.array([rows[int(p)][0] for p in vertex_part], np.int64)
    start = np.stack([rows[int(p)][1] for p in vertex_part])
    end = np.stack([rows[int(p)][2] for p in vertex_part])
    return PartAxes(group, start, end)


def axis_offsets(
    xy: np.ndarray, start: np.ndarray, end: np.ndarray, capped: np.ndarray | None = None
) -> np.ndarray:
    """Each point's offset from the line through its axis's two ends.

    Args:
        xy: (..., V, 2) points; start, end: (..., V, 2) their axes' ends (a zero-length axis
            is its own point: the offset is then from that point).
        capped: (V,) bool, optional: points whose axis ends at ``end``: beyond it their
            offset is from ``end`` itself.

    Returns:
        (..., V, 2) ``xy - p``, ``p`` the projection of ``xy`` on the (unbounded) line, or
        for a capped point on the line up to ``end``.
    """
    axis = end - start
    length2 = (axis * axis).sum(-1, keepdims=True)
    t = ((xy - start) * axis).sum(-1, keepdims=True) / np.maximum(length2, 1e-12)
    if capped is not None:
        t = np.where(capped[:, None], np.minimum(t, 1.0), t)
    return xy - (start + np.where(length2 > 1e-12, t, 0.0) * axis)


@njit(cache=True, nogil=True)
def _segment_distance2(px: float, py: float, seg: np.ndarray) -> float:
    """Squared distance of a point to the segment seg (4,) = x0, y0, x1, y1."""
    dx, dy = seg[2] - seg[0], seg[3] - seg[1]
    length2 = dx * dx + dy * dy
    t = ((px - seg[0]) * dx + (py - seg[1]) * dy) / length2 if length2 > 1e-12 else 0.0
    t = min(max(t, 0.0), 1.0)
    ex, ey = px - seg[0] - t * dx, py - seg[1] - t * dy
    return ex * ex + ey * ey


@njit(cache=True, nogil=True)
def _nearest_bones(bones: np.ndarray, h: int, w: int, stride: float) -> tuple:
    """Per cell of an (h, w) grid of ``stride`` px cells: the nearest bone of bones (S, 4)
    (id (h, w) int64) and the distances to it and to the next nearest ((h, w) float32 each):
    what a ray's samples look up instead of measuring every bone."""
    nearest = np.zeros((h, w), np.int64)
    d1 = np.empty((h, w), np.float32)
    d2 = np.empty((h, w), np.float32)
    for i in range(h):
        for j in range(w):
            px, py = (j + 0.5) * stride - 0.5, (i + 0.5) * stride - 0.5
            best, second, best_s = np.inf, np.inf, 0
            for s in range(bones.shape[0]):
                d = _segment_distance2(px, py, bones[s])
                if d < best:
                    best, second, best_s = d, best, s
                elif d < second:
                    second = d
            nearest[i, j], d1[i, j], d2[i, j] = best_s, np.sqrt(best), np.sqrt(second)
    return nearest, d1, d2


@njit(cache=True, nogil=True)
def _sample(grid: np.ndarray, px: float, py: float, stride: float) -> float:
    """grid (h, w) of ``stride`` px cells, bilinear at crop px (px, py) between the cell
    centres ((i + 0.5) * stride - 0.5), clamped to the grid."""
    h, w = grid.shape
    cx = min(max((px + 0.5) / stride - 0.5, 0.0), w - 1.0)
    cy = min(max((py + 0.5) / stride - 0.5, 0.0), h - 1.0)
    x0, y0 = min(int(cx), max(w - 2, 0)), min(int(cy), max(h - 2, 0))
    x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
    fx, fy = cx - x0, cy - y0
    top = grid[y0, x0] * (1 - fx) + grid[y0, x1] * fx
    bottom = grid[y1, x0] * (1 - fx) + grid[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


@njit(cache=True, nogil=True)
def fill_triangles(xy: np.ndarray, faces: np.ndarray, h: int, w: int, cell: float) -> np.ndarray:
    """A mesh's silhouette on a grid: xy (V, 2) crop px, faces (F, 3) -> (h, w) bool, the
    cells of ``cell`` px whose centre ((i + 0.5) * cell - 0.5 crop px) some face covers
    (either winding: the union of front and back)."""
    out = np.zeros((h, w), np.bool_)
    for f in range(faces.shape[0]):
        ax, ay = (xy[faces[f, 0], 0] + 0.5) / cell - 0.5, (xy[faces[f, 0], 1] + 0.5) / cell - 0.5
        bx, by = (xy[faces[f, 1], 0] + 0.5) / cell - 0.5, (xy[faces[f, 1], 1] + 0.5) / cell - 0.5
        cx, cy = (xy[faces[f, 2], 0] + 0.5) / cell - 0.5, (xy[faces[f, 2], 1] + 0.5) / cell - 0.5
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if area == 0.0:
            continue
        sign = 1.0 if area > 0 else -1.0
        i0 = max(int(np.ceil(min(ay, by, cy))), 0)
        i1 = min(int(np.floor(max(ay, by, cy))), h - 1)
        j0 = max(int(np.ceil(min(ax, bx, cx))), 0)
        j1 = min(int(np.floor(max(ax, bx, cx))), w - 1)
        for i in range(i0, i1 + 1):
            for j in range(j0, j1 + 1):
                e0 = ((bx - ax) * (i - ay) - (by - ay) * (j - ax)) * sign
                e1 = ((cx - bx) * (i - by) - (cy - by) * (j - bx)) * sign
                e2 = ((ax - cx) * (i - cy) - (ay - cy) * (j - cx)) * sign
                if e0 >= 0 and e1 >= 0 and e2 >= 0:
                    out[i, j] = True
    return out


@njit(cache=True, nogil=True)
def _rim_push(
    xy: np.ndarray,
    rays: np.ndarray,
    grid: np.ndarray,
    stride: float,
    faces: np.ndarray,
    reach: float,
) -> np.ndarray:
    """``rim_pushes`` for one person: xy / rays (V, 2), grid (h, w), faces (F, 3)."""
    h, w = grid.shape
    cell = stride / 2  # the silhouette's cells: half the mask's
    hh, ww = 2 * h, 2 * w
    body = fill_triangles(xy, faces, hh, ww, cell)
    n = xy.shape[0]
    push = np.zeros((n, 2), np.float32)
    size_x, size_y = w * stride, h * stride
    for v in range(n):
        length = np.sqrt(rays[v, 0] * rays[v, 0] + rays[v, 1] * rays[v, 1])
        if length < 1e-6:
            continue
        dx, dy = rays[v, 0] / length, rays[v, 1] / length
        if _sample(grid, xy[v, 0], xy[v, 1], stride) < 0.5:
            continue  # the outline already reaches past the mask here
        # samples a silhouette cell apart; the edge is taken half-way between the last
        # inside and the first outside (finer steps, with the crossing interpolated, cover
        # less of the held-out people: IoU of the people found 0.561 -> 0.552)
        last = 0.0
        k = 1
        while k * cell <= reach:
            t = k * cell
            px, py = xy[v, 0] + t * dx, xy[v, 1] + t * dy
            if px < -0.5 or py < -0.5 or px > size_x - 0.5 or py > size_y - 0.5:
                break
            i = min(max(int((py + 0.5) / cell), 0), hh - 1)
            j = min(max(int((px + 0.5) / cell), 0), ww - 1)
            if body[i, j]:
                # at the first step the vertex is not on the rim (the body lies outwards:
                # it stays); later, another part begins: the gap up to it is filled
                break
            if _sample(grid, px, py, stride) < 0.5:
                last = t - cell / 2
                break
            last = t
            k += 1
        push[v, 0], push[v, 1] = last * dx, last * dy
    return push


@njit(cache=True, nogil=True)
def _march(
    grid: np.ndarray,
    xy: np.ndarray,
    offsets: np.ndarray,
    stride: float,
    steps: np.ndarray,
    bones: np.ndarray,
    own: np.ndarray,
    territory: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``mask_extents`` for one person: grid (h, w), xy / offsets (V, 2), bones (S, 4), own
    (V,). Each ray stops at its first sample outside the mask or nearer another bone than
    its own, so most take a few samples instead of all of them; samples are bilinear
    between cell centres (crop px (i + 0.5) * stride - 0.5), clamped to the grid."""
    h, w = grid.shape
    n = xy.shape[0]
    extent = np.empty(n, np.float32)
    valid = np.zeros(n, np.bool_)
    last = steps.shape[0] - 1
    # the bones' map on cells twice as coarse as the mask's (a quarter of the work; the
    # ground's edge only needs to be about right)
    mh, mw = (h + 1) // 2, (w + 1) // 2
    nearest, d1, d2 = _nearest_bones(bones, mh, mw, 2 * stride)
    for v in range(n):
        bx, by = xy[v, 0] - offsets[v, 0], xy[v, 1] - offsets[v, 1]
        extent[v] = steps[last]
        for k in range(steps.shape[0]):
            px, py = bx + steps[k] * offsets[v, 0], by + steps[k] * offsets[v, 1]
            outside = _sample(grid, px, py, stride) < 0.5
            if not outside and k > 0 and bones.shape[0] > 1:
                ci = min(max(int((py + 0.5) / (2 * stride)), 0), mh - 1)  # the sample's cell
                cj = min(max(int((px + 0.5) / (2 * stride)), 0), mw - 1)
                other = d2[ci, cj] if nearest[ci, cj] == own[v] else d1[ci, cj]
                mine = np.sqrt(_segment_distance2(px, py, bones[own[v]]))
                # another part's ground: the mask there is not ours
                outside = other < territory * mine
            if outside:
                # the edge lies between the last sample inside and this one
                extent[v] = (steps[k - 1] + steps[k]) / 2 if k > 0 else steps[0]
                break
            if k == 0:
                valid[v] = True
    return extent, valid


def mask_extents(
    xy: np.ndarray,
    offsets: np.ndarray,
    foreground: np.ndarray,
    stride: float,
    bones: np.ndarray | None = None,
    own: np.ndarray | None = None,
    territory: float = TERRITORY,
) -> tuple[np.ndarray, np.ndarray]:
    """How far the person's mask reaches along each vertex's ray from its bone, within its
    own part's ground: a ray also stops where another bone is nearer than ``territory`` x
    its own (the torso's beside a raised arm would otherwise run on along the arm).

    Args:
        xy: (B, V, 2) vertices, crop px; offsets: (B, V, 2) their offsets from their bones
            (``axis_offsets``); foreground: (B, h, w) mask probabilities on ``stride`` px
            cells; bones: (B, S, 4) every part's bone as x0, y0, x1, y1 crop px, own: (V,)
            each vertex's bone (None: no other part's ground is kept out).

    Returns:
        extent (B, V) float32: where the mask (or the part's ground) ends, in units of the
        offset (1: at the vertex; the largest of ``FIT_STEPS`` when it reaches further), and
        valid (B, V) bool: the ray starts inside the mask (half-way from the bone to the
        vertex).
    """
    if bones is None or own is None:
        bones, own = np.zeros((len(xy), 1, 4), np.float32), np.zeros(xy.shape[1], np.int64)
    out = [
        _march(
            np.ascontiguousarray(g, np.float32),
            np.ascontiguousarray(p, np.float32),
            np.ascontiguousarray(o, np.float32),
            float(stride),
            FIT_STEPS,
            np.ascontiguousarray(b, np.float32),
            np.ascontiguousarray(own, np.int64),
            float(territory),
        )
        for g, p, o, b in zip(foreground, xy, offsets, bones, strict=True)
    ]
    return np.stack([e for e, _ in out]), np.stack([v for _, v in out])


def rim_pushes(
    xy: np.ndarray,
    rays: np.ndarray,
    foreground: np.ndarray,
    stride: float,
    faces: np.ndarray,
    reach: np.ndarray,
) -> np.ndarray:
    """How far each vertex on the outline's rim may move outwards and stay on its person.

    Args:
        xy: (B, V, 2) outline meshes, crop px; rays: (B, V, 2) outward directions, any
            length (zero: the vertex stays); foreground: (B, h, w) mask probabilities on
            ``stride`` px cells; faces: (F, 3); reach: (B,) the longest move, px.

    Returns:
        (B, V, 2) float32 px: each vertex's move along its ray, as far as the mask goes on
        before it ends or another part of the same mesh begins (at most ``reach``); zero for
        a vertex inside the silhouette (a step outwards is still on the mesh) or already
        outside the mask.
    """
    faces = np.ascontiguousarray(faces, np.int64)
    return np.stack(
        [
            _rim_push(
                np.ascontiguousarray(p, np.float32),
                np.ascontiguousarray(d, np.float32),
                np.ascontiguousarray(g, np.float32),
                float(stride),
                faces,
                float(r),
            )
            for p, d, g, r in zip(xy, rays, foreground, reach, strict=True)
        ]
    )


@njit(cache=True, nogil=True)
def _side_medians(key: np.ndarray, values: np.ndarray, chosen: np.ndarray, n: int) -> np.ndarray:
    """(n,) float32 median of ``values`` over the chosen entries of each key (NaN: none)."""
    out = np.full(n, np.nan, np.float32)
    counts = np.zeros(n, np.int64)
    for i in range(key.shape[0]):
        if chosen[i]:
            counts[key[i]] += 1
    first = np.zeros(n + 1, np.int64)
    for k in range(n):
        first[k + 1] = first[k] + counts[k]
    buf = np.empty(first[n], np.float32)
    fill = first[:n].copy()
    for i in range(key.shape[0]):
        if chosen[i]:
            buf[fill[key[i]]] = values[i]
            fill[key[i]] += 1
    for k in range(n):
        c = counts[k]
        if c:
            part = np.sort(buf[first[k] : first[k] + c])
            out[k] = (part[(c - 1) // 2] + part[c // 2]) / 2
    return out


def neighbour_mean_matrix(topology: Topology, steps: int = SMOOTH_STEPS) -> np.ndarray:
    """(V, V) float32 operator of ``steps`` rounds of x <- (x + mean of neighbours) / 2."""
    n = topology.num_vertices
    step = np.zeros((n, n), np.float64)
    for v, nbrs in enumerate(topology.adjacency):
        step[v, v] = 0.5
        if len(nbrs):
            step[v, nbrs] += 0.5 / len(nbrs)
        else:
            step[v, v] = 1.0
    return np.linalg.matrix_power(step, steps).astype(np.float32)


class OutlineWidening:
    """Widens batches of low-poly meshes (``__call__``); fixed scales per ``GROUP_NAMES``,
    or scales fitted per person to a foreground mask."""

    def __init__(
        self,
        scales: tuple[float, ...] | np.ndarray,
        topology: Topology,
        rim_reach: float = RIM_REACH,
    ) -> None:
        """rim_reach: ``RIM_REACH``; 0 leaves the fitted sides as they are."""
        scales = np.asarray(scales, np.float32)
        if scales.shape != (len(GROUP_NAMES),):
            raise ValueError(f"need {len(GROUP_NAMES)} scales ({GROUP_NAMES}), got {scales}")
        self.scales = scales
        self.topology = topology
        axes = part_axes(topology.vertex_part)
        self._vertex_scale = scales[axes.group]  # (V,)
        self._start, self._end, self._capped = axes.start, axes.end, axes.capped
        self._smooth = neighbour_mean_matrix(topology)
        self.rim_reach = rim_reach
        self._faces = np.ascontiguousarray(topology.faces, np.int64)
        # the part's side of the body (none / left / right) and its group: one instance
        side = np.array(
            [1 if "left" in n else 2 if "right" in n else 0 for n in PART_NAMES], np.int64
        )[topology.vertex_part - 1]
        self._instance = axes.group * 3 + side  # (V,)
        # instances x the sides of their bones: left, right, and beyond a capped end
        self._sides = len(GROUP_NAMES) * 3 * 3
        # one bone per instance (its vertices share their axis's ends)
        instances, first = np.unique(self._instance, return_index=True)
        self._bone = np.searchsorted(instances, self._instance)  # (V,) -> bone
        self._bone_start, self._bone_end = axes.start[first], axes.end[first]  # (S, K)

    def __call__(
        self, vertices: np.ndarray, foreground: np.ndarray | None = None, stride: float = 4.0
    ) -> np.ndarray:
        """(B, V, D >= 2) body meshes -> (B, V, D) outline meshes (XY moved, the rest kept);
        with ``foreground`` (B, h, w) mask probabilities on ``stride`` px cells of the same
        crops, the scales are each person's (see the module's doc)."""
        xy = vertices[..., :2]
        kp = self.topology.keypoints(xy)  # (B, K, 2): the axes' ends
        # matmuls, not einsum: ~0.1 ms a person instead of ~1.6 ms
        start, end = self._start @ kp, self._end @ kp  # (B, V, 2)
        if foreground is None:
            offset = axis_offsets(xy, start, end)
            scale = np.broadcast_to(self._vertex_scale, xy.shape[:2])
        else:
            # beyond a capped end the offset is from the end (the crown): a side of its own,
            # which grows only with the mask's evidence (the fixed scales widen sideways,
            # from the line: the capped offset less its part along the axis)
            axis = end - start
            capped = axis_offsets(xy, start, end, self._capped)
            along, length2 = (capped * axis).sum(-1), (axis * axis).sum(-1)
            beyond = self._capped & (along > 1e-6 * length2)
            excess = np.where(beyond, along / np.maximum(length2, 1e-12), 0.0)
            line = capped - excess[..., None] * axis
            fitted = self._fitted_scales(xy, capped, axis, beyond, kp, foreground, stride)
            seen = ~np.isnan(fitted)
            offset = np.where((beyond & seen)[..., None], capped, line)
            scale = np.where(seen, fitted, self._vertex_scale)
        out = np.array(vertices, np.float32, copy=True)
        out[..., :2] += self._smooth @ (offset * scale[..., None]).astype(np.float32)
        if foreground is not None and self.rim_reach > 0:
            # the rim on to the mask's edge, each vertex along its own ray from its bone
            extent = np.maximum(np.ptp(kp[..., 0], axis=-1), np.ptp(kp[..., 1], axis=-1))
            out[..., :2] += rim_pushes(
                out[..., :2], offset, foreground, stride, self._faces, self.rim_reach * extent
            )
        return out

    def _fitted_scales(
        self,
        xy: np.ndarray,
        offset: np.ndarray,
        axis: np.ndarray,
        beyond: np.ndarray,
        kp: np.ndarray,
        foreground: np.ndarray,
        stride: float,
    ) -> np.ndarray:
        """-> (B, V) scale per vertex: per side of each part (``beyond`` (B, V): the crown
        past a capped end), the median of (extent - 1) over its outer vertices (at least its
        mean distance from the bone: the outline is where they are); NaN where a side has
        no evidence. A median, because a few rays still overshoot (past a thin gap in the
        mask, or where two parts' grounds meet)."""
        b = xy.shape[0]
        bones = np.concatenate([self._bone_start @ kp, self._bone_end @ kp], axis=-1)
        extent, valid = mask_extents(xy, offset, foreground, stride, bones, self._bone)
        own = np.clip(extent - 1.0, *FIT_RANGE)
        cross = axis[..., 0] * offset[..., 1] - axis[..., 1] * offset[..., 0]
        side = np.where(beyond, 2, cross > 0)
        key = self._instance * 3 + side + np.arange(b)[:, None] * self._sides  # (B, V)
        r = np.linalg.norm(offset, axis=-1)
        n = b * self._sides
        flat = key.ravel()
        mean_r = np.bincount(flat, r.ravel(), n) / np.maximum(np.bincount(flat, None, n), 1)
        chosen = (valid & (r >= mean_r[key])).ravel()
        median = _side_medians(flat, own.ravel().astype(np.float32), chosen, n)
        per_side = median[key]
        return per_side.astype(np.float32)
