"""Build everything in assets/garments/ from the body template (deterministic, ours: CC0).

    python tools/build_garments.py [--out assets/garments] [--size 1024]

* ``uv_template.png``: the body atlas (seam faces repaired) with parts coloured, outlined and
  labelled, to paint texture garments on.
* Texture garments (atlas PNGs): ``striped_tshirt``, ``patterned_leggings``, ``chest_logo``.
  Their paint is computed from each texel's rest 3D position, so stripes and patterns run
  across atlas seams without a break.
* Mesh garments (``.npz``, see ``meshpose_core.tryon.garment``): ``flared_skirt`` (A-line,
  pleated, hem below the hips; its hem blends hip and leg anchors), ``loose_coat`` (offset
  shell over torso and arms cut by smooth fields, hem band, textured on the body atlas) and
  ``crossbody_bag`` (rounded box at the left hip, strap across the torso).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.render import part_colors, vertex_normals  # noqa: E402
from meshpose_core.topology import PART_NAMES, Topology, part_index  # noqa: E402
from meshpose_core.tryon.atlas import (  # noqa: E402
    BodyAtlas,
    texel_attribute,
    texel_barycentrics,
    uv_to_texel,
)
from meshpose_core.tryon.binding import closest_surface_points, make_binding  # noqa: E402
from meshpose_core.tryon.garment import save_mesh_garment, write_rgba  # noqa: E402
from meshpose_core.tryon.regions import REGIONS, place_on_region  # noqa: E402

TORSO = ("torso_back", "torso_front")
ARMS = tuple(n for n in PART_NAMES if "arm" in n)
LEGS_UPPER_LEFT = ("upper_leg_left_back", "upper_leg_left_front")
LEGS_UPPER_RIGHT = ("upper_leg_right_back", "upper_leg_right_front")
LEGS = tuple(n for n in PART_NAMES if "_leg_" in n)


def parts_mask(topo: Topology, names: tuple[str, ...]) -> np.ndarray:
    """(F,) bool faces of the named parts."""
    return np.isin(topo.face_part, [part_index(n) for n in names])


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


# -- atlas sheet: per-texel body data ------------------------------------------------------------


@dataclass(frozen=True)
class AtlasSheet:
    """Per texel of a size x size atlas: body face (-1 none), rest position, normal, part."""

    face: np.ndarray  # (S, S) int32
    pos: np.ndarray  # (S, S, 3)
    normal: np.ndarray  # (S, S, 3)
    part: np.ndarray  # (S, S) int64, 0 outside

    @property
    def is_arm(self) -> np.ndarray:
        return np.isin(self.part, [part_index(n) for n in ARMS])

    @classmethod
    def build(cls, topo: Topology, atlas: BodyAtlas, size: int) -> AtlasSheet:
        face = atlas.face_map(size, size)
        bary = texel_barycentrics(atlas.corner_uv, face)
        v, f = topo.vertices, topo.faces
        pos = texel_attribute(face, bary, v[f])
        normal = texel_attribute(face, bary, vertex_normals(v, f)[f])
        part = np.where(face >= 0, topo.face_part[np.maximum(face, 0)], 0)
        return cls(face=face, pos=pos, normal=normal, part=part)


def to_rgba(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """float RGB 0..255 (S, S, 3) and alpha 0..1 (S, S) -> uint8 RGBA."""
    out = np.concatenate([rgb, alpha[..., None] * 255.0], axis=-1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def uv_template(topo: Topology, atlas: BodyAtlas, sheet: AtlasSheet) -> np.ndarray:
    """The painting guide: pastel part colours, face wireframe, island outlines, labels."""
    size = sheet.face.shape[0]
    pale = part_colors().astype(np.float32) * 0.55 + 255 * 0.45
    rgb = np.where((sheet.face >= 0)[..., None], pale[sheet.part], 236.0).astype(np.uint8)
    rgb = np.ascontiguousarray(rgb)
    pts = np.rint(uv_to_texel(atlas.corner_uv, size, size) * 4).astype(np.int32)
    good = ~atlas.repaired
    cv2.polylines(rgb, list(pts[good]), True, (165, 165, 165), 1, cv2.LINE_8, shift=2)
    island = (sheet.face >= 0).astype(np.uint8)
    edge = cv2.morphologyEx(island, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    rgb[edge] = (40, 40, 40)
    scale = size / 2048
    for p in range(1, len(PART_NAMES) + 1):
        mask = (sheet.part == p).astype(np.uint8)
        n, _, stats, centroids = cv2.connectedComponentsWithStats(mask)
        if n < 2:
            continue
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        cx, cy = centroids[biggest]
        text = PART_NAMES[p - 1].replace("_", " ")
        font, fs, th = cv2.FONT_HERSHEY_SIMPLEX, 0.9 * scale, max(1, round(2 * scale))
        (tw, tht), _ = cv2.getTextSize(text, font, fs, th)
        org = (int(np.clip(cx - tw / 2, 4, size - tw - 4)), int(cy + tht / 2))
        cv2.putText(rgb, text, org, font, fs, (255, 255, 255), th + 3, cv2.LINE_AA)
        cv2.putText(rgb, text, org, font, fs, (20, 20, 20), th, cv2.LINE_AA)
    note = ("MeshPose Live body atlas (left/right: the person's own): paint inside the "
            "outlines; transparent = no garment")  # fmt: skip
    cv2.putText(rgb, note, (int(12 * scale), size - int(12 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                0.8 * scale, (60, 60, 60), max(1, round(2 * scale)), cv2.LINE_AA)  # fmt: skip
    return np.concatenate([rgb, np.full((size, size, 1), 255, np.uint8)], axis=-1)


# -- garment fields on the rest body ------------------------------------------------------------
# Smooth scalar fields of the rest position (and part), >= 0 inside a garment; the same field
# cuts a mesh garment and paints its rib bands.

SHOULDER = {+1: np.array([0.165, 0.455, 0.0]), -1: np.array([-0.165, 0.455, 0.0])}
WRIST = {+1: np.array([0.43, 0.14, 0.1]), -1: np.array([-0.43, 0.14, 0.1])}


def arm_param(p: np.ndarray, side: int) -> np.ndarray:
    """Fraction of the way from shoulder (0) to wrist (1) along the rest arm."""
    axis = WRIST[side] - SHOULDER[side]
    return (p - SHOULDER[side]) @ axis / (axis @ axis)


def neck_field(p: np.ndarray, front_drop: float, radius: float) -> np.ndarray:
    """>= 0 below a neckline that dips ``front_drop`` at the front, or away from the neck."""
    y_cut = 0.475 - front_drop * smoothstep(0.0, 0.09, p[..., 2])
    r = np.hypot(p[..., 0] / 1.15, p[..., 2])
    return np.maximum(y_cut - p[..., 1], r - radius)


def sleeve_field(p: np.ndarray, is_arm: np.ndarray, length: float) -> np.ndarray:
    """>= 0 on the arms up to ``length`` (fraction shoulder -> wrist); 1 off the arms."""
    cut = np.minimum(length - arm_param(p, +1), length - arm_param(p, -1))
    return np.where(is_arm, cut, 1.0)


def tshirt_field(p: np.ndarray, is_arm: np.ndarray) -> np.ndarray:
    return np.minimum.reduce(
        [neck_field(p, 0.05, 0.085), sleeve_field(p, is_arm, 0.3), p[..., 1] - 0.0]
    )


def coat_field(p: np.ndarray, is_arm: np.ndarray) -> np.ndarray:
    return np.minimum.reduce(
        [neck_field(p, 0.02, 0.075), sleeve_field(p, is_arm, 0.93), p[..., 1] + 0.05]
    )


def leggings_field(p: np.ndarray) -> np.ndarray:
    return np.minimum(0.06 - p[..., 1], p[..., 1] + 0.76)


# -- texture garments ------------------------------------------------------------------------


def garment_alpha(sheet: AtlasSheet, field: np.ndarray, allowed: tuple[str, ...]) -> np.ndarray:
    """(S, S) alpha: inside the field (2 mm soft edge) on the allowed parts."""
    ok = np.isin(sheet.part, [part_index(n) for n in allowed])
    return smoothstep(-0.001, 0.001, field) * ok


def striped_tshirt(sheet: AtlasSheet) -> np.ndarray:
    """Breton top: navy stripes on off-white, solid navy rib at the hem, cuffs, collar."""
    p = sheet.pos
    field = tshirt_field(p, sheet.is_arm)
    alpha = garment_alpha(sheet, field, TORSO + ARMS + LEGS_UPPER_LEFT + LEGS_UPPER_RIGHT)
    stripe = smoothstep(0.35, 0.45, np.abs(((p[..., 1] / 0.032) % 1.0) - 0.5) * 2)
    navy, white = np.array([28, 42, 86.0]), np.array([240, 236, 226.0])
    rgb = white + (navy - white) * stripe[..., None]
    rib = smoothstep(0.016, 0.012, field)
    rgb = rgb + (navy - rgb) * rib[..., None]
    return to_rgba(rgb, alpha)


def patterned_leggings(sheet: AtlasSheet) -> np.ndarray:
    """Argyle diamonds around each leg (cylindrical coordinates), waistband on top."""
    p = sheet.pos
    alpha = garment_alpha(sheet, leggings_field(p), LEGS + TORSO)
    side = np.sign(p[..., 0])
    cx = np.where(np.abs(p[..., 0]) > 0.02, side * 0.1, 0.0)
    theta = np.arctan2(p[..., 0] - cx, p[..., 2] - 0.02)
    u = theta * 0.075 / (2 * np.pi / 12) / 0.075  # 12 diamonds around
    v = p[..., 1] / 0.07
    du = np.abs((u % 1.0) - 0.5)
    dv = np.abs((v % 1.0) - 0.5)
    diamond = smoothstep(0.52, 0.48, du + dv)
    shift = np.abs(((u + 0.5) % 1.0) - 0.5) + np.abs(((v + 0.5) % 1.0) - 0.5)
    other = smoothstep(0.52, 0.48, shift)
    base, c1, c2 = np.array([38, 30, 52.0]), np.array([120, 60, 150.0]), np.array([40, 140, 150])
    rgb = base + (c1 - base) * diamond[..., None] * 0.9 + (c2 - base) * other[..., None] * 0.6
    line = smoothstep(0.03, 0.0, np.abs(np.abs(u % 1.0 - 0.5) - np.abs(v % 1.0 - 0.5)))
    rgb = rgb + (np.array([220, 210, 230.0]) - rgb) * line[..., None] * 0.5
    band = smoothstep(0.03, 0.025, 0.06 - p[..., 1])
    rgb = rgb + (np.array([20, 20, 24.0]) - rgb) * band[..., None]
    return to_rgba(rgb, alpha)


def logo_image(size: int = 512) -> np.ndarray:
    """Our chest logo: a badge with 'MP' and a ring, RGBA with transparent corners."""
    img = np.zeros((size, size, 4), np.uint8)
    c, r = size // 2, int(size * 0.46)
    cv2.circle(img, (c, c), r, (230, 80, 50, 255), -1, cv2.LINE_AA)
    cv2.circle(img, (c, c), int(r * 0.86), (250, 245, 235, 255), int(size * 0.03), cv2.LINE_AA)
    font, fs, th = cv2.FONT_HERSHEY_DUPLEX, size / 125, max(3, size // 32)
    (tw, tht), _ = cv2.getTextSize("MP", font, fs, th)
    cv2.putText(img, "MP", (c - tw // 2, c + tht // 2), font, fs, (250, 245, 235, 255), th,
                cv2.LINE_AA)  # fmt: skip
    return img


# -- mesh building blocks --------------------------------------------------------------------


@dataclass(frozen=True)
class Anchors:
    """Where garment vertices attach: face (N, K), bary (N, K, 3), weight (N, K)."""

    face: np.ndarray
    bary: np.ndarray
    weight: np.ndarray

    @classmethod
    def single(cls, face: np.ndarray, bary: np.ndarray) -> Anchors:
        return cls(face[:, None], bary[:, None], np.ones((len(face), 1)))

    @classmethod
    def concat(cls, items: list[Anchors]) -> Anchors:
        """Stack anchors of different counts K (missing anchors get weight 0)."""
        k = max(a.face.shape[1] for a in items)

        def pad(x: np.ndarray) -> np.ndarray:
            extra = np.zeros((x.shape[0], k - x.shape[1], *x.shape[2:]), x.dtype)
            return np.concatenate([x, extra], axis=1)

        return cls(*(np.concatenate([pad(getattr(a, n)) for a in items])
                     for n in ("face", "bary", "weight")))  # fmt: skip


@dataclass(frozen=True)
class Piece:
    """A garment mesh under construction: rest vertices, faces, per-corner UVs, anchors,
    lag weights. The binding is made once the mesh is whole (it needs the normals)."""

    vertices: np.ndarray
    faces: np.ndarray
    corner_uv: np.ndarray
    anchors: Anchors
    lag: np.ndarray


def merge(pieces: list[Piece]) -> Piece:
    """Disjoint union of garment pieces."""
    offsets = np.cumsum([0] + [len(p.vertices) for p in pieces])
    return Piece(
        vertices=np.concatenate([p.vertices for p in pieces]),
        faces=np.concatenate([p.faces + o for p, o in zip(pieces, offsets, strict=False)]),
        corner_uv=np.concatenate([p.corner_uv for p in pieces]),
        anchors=Anchors.concat([p.anchors for p in pieces]),
        lag=np.concatenate([p.lag for p in pieces]),
    )


def grid_faces(rows: int, cols: int, closed: bool) -> np.ndarray:
    """Quads of a rows x cols vertex grid (row-major) as triangles; columns wrap if closed."""
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols if closed else cols - 1), indexing="ij")
    a = r * cols + c
    b = r * cols + (c + 1) % cols
    d, e = a + cols, b + cols
    quads = np.stack([a, d, e, b], axis=-1).reshape(-1, 4)
    return np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])


def grid_uv(rows: int, cols: int, faces: np.ndarray, closed: bool) -> np.ndarray:
    """Corner UVs of a grid: u = column / cols (1.0 at the wrap), v = 1 - row / (rows - 1)."""
    r, c = faces // cols, faces % cols
    u = c / cols if closed else c / (cols - 1)
    if closed:  # a face touching column 0 and the last column wraps: its column 0 is u = 1
        wraps = (c == 0).any(axis=1) & (c == cols - 1).any(axis=1)
        u = np.where(wraps[:, None] & (c == 0), 1.0, u)
    return np.stack([u, 1.0 - r / (rows - 1)], axis=-1).astype(np.float32)


def orient_outward(vertices: np.ndarray, faces: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Flip the winding if most face normals point toward ``centre``."""
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    out = ((tri.mean(axis=1) - centre) * n).sum(axis=1)
    return faces if (out > 0).mean() >= 0.5 else faces[:, ::-1].copy()


def star_radius(
    points: np.ndarray, centre: np.ndarray, e1: np.ndarray, e2: np.ndarray, angles: np.ndarray,
    half_width: float,
) -> np.ndarray:  # fmt: skip
    """Outer radius of a point cloud seen from ``centre`` in the plane (e1, e2), per angle
    (largest radius within +-``half_width`` rad), gaps filled circularly."""
    d = points - centre
    phi = np.arctan2(d @ e2, d @ e1)
    rad = np.hypot(d @ e1, d @ e2)
    diff = np.abs((phi[None, :] - angles[:, None] + np.pi) % (2 * np.pi) - np.pi)
    r = np.where(diff < half_width, rad[None, :], -np.inf).max(axis=1)
    known = np.isfinite(r)
    idx = np.arange(len(angles))
    return np.interp(idx, idx[known], r[known], period=len(angles))


def circular_smooth(x: np.ndarray, width: int, axis: int = -1) -> np.ndarray:
    k = np.ones(2 * width + 1) / (2 * width + 1)
    pad = np.concatenate([x.take(range(-width, 0), axis), x, x.take(range(width), axis)], axis)
    return np.apply_along_axis(lambda s: np.convolve(s, k, mode="valid"), axis, pad)


# -- flared skirt ----------------------------------------------------------------------------


def hip_leg_anchors(topo: Topology, points: np.ndarray, leg_share: np.ndarray) -> Anchors:
    """Bind loose points (a hem) to three anchors: the closest point on the pelvis and on
    each thigh. The thighs get ``leg_share`` (N,) of the weight, split by inverse squared
    distance: a hem's side follows its leg, its front centre both legs' average."""
    v, f = topo.vertices, topo.faces
    pelvis = parts_mask(topo, TORSO) & (v[f][:, :, 1].mean(1) < 0.12)
    anchors = [closest_surface_points(v, f, points, np.flatnonzero(pelvis))]
    for names in (LEGS_UPPER_LEFT, LEGS_UPPER_RIGHT):
        anchors.append(
            closest_surface_points(v, f, points, np.flatnonzero(parts_mask(topo, names)))
        )
    inv = np.stack([1 / np.maximum(a[2], 0.01) ** 2 for a in anchors[1:]], axis=1)
    legs = inv / inv.sum(axis=1, keepdims=True) * leg_share[:, None]
    weight = np.concatenate([(1 - leg_share)[:, None], legs], axis=1)
    return Anchors(np.stack([a[0] for a in anchors], 1), np.stack([a[1] for a in anchors], 1),
                   weight)  # fmt: skip


def flared_skirt(topo: Topology, rows: int = 16, cols: int = 96, pleats: int = 16) -> Piece:
    """A-line pleated skirt from the waist to just above the knees.

    Each row is the body's outer hull at that height (torso + legs, arms excluded) plus ease,
    never narrower than the row above below the hips (it bridges the legs), widening by a
    flare slope; pleats are a zigzag of the radius growing toward the hem. Anchors: the
    closest point on the pelvis and on each thigh; the thighs take over toward the hem.
    """
    v = topo.vertices
    y_top, y_hip, y_hem = 0.07, -0.06, -0.36
    ys = np.linspace(y_top, y_hem, rows)
    angles = np.linspace(0, 2 * np.pi, cols, endpoint=False) + np.pi  # seam at the back
    body = np.isin(topo.vertex_part, [part_index(n) for n in TORSO + LEGS])
    pts = v[body]
    centre_z = float(pts[np.abs(pts[:, 1] - y_hip) < 0.03][:, 2].mean())
    e1, e2 = np.array([0.0, 0, 1]), np.array([1.0, 0, 0])  # angle 0 = front, pi/2 = left
    radius = np.zeros((rows, cols))
    for i, y in enumerate(ys):
        slab = pts[np.abs(pts[:, 1] - y) < 0.02]
        radius[i] = star_radius(slab, np.array([0, y, centre_z]), e1, e2, angles, 0.12)
    radius = circular_smooth(radius, 3)
    t = (y_top - ys) / (y_top - y_hem)
    ease = 0.006 + 0.03 * smoothstep(0.0, 0.4, t)
    below = np.maximum(y_hip - ys, 0.0)
    radius = radius + ease[:, None]
    hip_row = int(np.argmin(np.abs(ys - y_hip)))
    for i in range(hip_row + 1, rows):  # below the hips: no narrower than above, then flare
        radius[i] = np.maximum(radius[i], radius[i - 1])
    radius = radius + 0.32 * below[:, None]
    zig = np.abs(((angles - angles[0]) * pleats / (2 * np.pi)) % 1.0 - 0.5) * 2 - 0.5
    radius = radius + 0.024 * smoothstep(0.05, 1.0, t)[:, None] * zig[None, :]
    ang = angles[None, :]
    verts = np.stack(
        [radius * np.sin(ang), np.repeat(ys[:, None], cols, 1), centre_z + radius * np.cos(ang)],
        axis=-1,
    ).reshape(-1, 3)
    faces = orient_outward(verts, grid_faces(rows, cols, True), np.array([0, y_hip, centre_z]))
    uv = grid_uv(rows, cols, faces, True)

    tv = np.repeat(t, cols)
    anchors = hip_leg_anchors(topo, verts, 0.85 * smoothstep(0.15, 1.0, tv))
    return Piece(verts.astype(np.float32), faces.astype(np.int32), uv, anchors,
                 smoothstep(0.1, 1.0, tv).astype(np.float32))  # fmt: skip


def tartan(width: int, height: int) -> np.ndarray:
    """Red/green tartan with pleat folds (its own UVs: u around the skirt, v down)."""
    u = (np.arange(width) + 0.5) / width
    v = (np.arange(height) + 0.5) / height
    uu, vv = np.meshgrid(u * 16, v * 5.0, indexing="xy")  # ~8 cm checks

    def band(x: np.ndarray, centre: float, half: float) -> np.ndarray:
        return smoothstep(half + 0.02, half - 0.02, np.abs((x % 1.0) - centre))

    red, green, navy = np.array([150, 28, 36.0]), np.array([28, 70, 48.0]), np.array([24, 30, 60])
    rgb = np.broadcast_to(red, (height, width, 3)).copy()
    for x in (uu, vv):
        rgb += (green - rgb) * band(x, 0.3, 0.12)[..., None] * 0.55
        rgb += (navy - rgb) * band(x, 0.75, 0.07)[..., None] * 0.5
        rgb += (np.array([230, 210, 120.0]) - rgb) * band(x, 0.52, 0.012)[..., None] * 0.8
    waistband = smoothstep(0.05, 0.04, vv / 5.0)
    rgb += (np.array([35, 25, 30.0]) - rgb) * waistband[..., None]
    return to_rgba(rgb, np.ones((height, width)))


# -- loose coat --------------------------------------------------------------------------------


def clip_by_field(
    vertices: np.ndarray, faces: np.ndarray, field: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keep the part of a mesh where a per-vertex field is >= 0, cut along its zero line.

    Returns:
        new vertices (N, 3); new faces (G, 3); source face of every new face (G,); and the
        barycentric coordinates of every new face's corners in its source face (G, 3, 3).
    """
    keep = field >= 0
    new_vertices = list(vertices[keep])
    index = np.full(len(vertices), -1)
    index[keep] = np.arange(keep.sum())
    edge_vertex: dict[tuple[int, int], int] = {}

    def cut(a: int, b: int) -> int:
        key = (min(a, b), max(a, b))
        if key not in edge_vertex:
            t = field[a] / (field[a] - field[b])
            new_vertices.append(vertices[a] + t * (vertices[b] - vertices[a]))
            edge_vertex[key] = len(new_vertices) - 1
        return edge_vertex[key]

    out_faces, src, bary = [], [], []
    eye = np.eye(3)
    for fi, tri in enumerate(faces):
        inside = keep[tri]
        if inside.all():
            out_faces.append(index[tri])
            src.append(fi)
            bary.append(eye)
            continue
        if not inside.any():
            continue
        poly, pb = [], []  # clipped polygon (Sutherland-Hodgman on one triangle)
        for k in range(3):
            a, b = tri[k], tri[(k + 1) % 3]
            if keep[a]:
                poly.append(index[a])
                pb.append(eye[k])
            if keep[a] != keep[b]:
                poly.append(cut(a, b))
                t = field[a] / (field[a] - field[b])
                pb.append(eye[k] * (1 - t) + eye[(k + 1) % 3] * t)
        for j in range(1, len(poly) - 1):
            out_faces.append([poly[0], poly[j], poly[j + 1]])
            src.append(fi)
            bary.append(np.stack([pb[0], pb[j], pb[j + 1]]))
    return np.array(new_vertices), np.array(out_faces), np.array(src), np.array(bary)


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Vertex loops along the open boundary of a manifold mesh, each in order."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = {tuple(x) for x in e.tolist()}
    nxt = {a: b for a, b in e.tolist() if (b, a) not in key}
    loops, seen = [], set()
    for start in nxt:
        if start in seen:
            continue
        loop, cur = [], start
        while cur not in seen:
            seen.add(cur)
            loop.append(cur)
            cur = nxt[cur]
        loops.append(np.array(loop))
    return loops


def vertex_neighbours(faces: np.ndarray, n: int) -> list[np.ndarray]:
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.unique(np.concatenate([e, e[:, ::-1]]), axis=0)
    splits = np.searchsorted(e[:, 0], np.arange(1, n))
    return np.split(e[:, 1], splits)


def largest_component(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    """(G,) bool: the faces of the largest edge-connected component."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    graph = sparse.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), (num_vertices,) * 2)
    _, label = csgraph.connected_components(graph, directed=False)
    return label[faces[:, 0]] == np.argmax(np.bincount(label[faces[:, 0]]))


def smooth_shell(vertices: np.ndarray, faces: np.ndarray, iterations: int) -> np.ndarray:
    """Laplacian smoothing (strength 0.5); boundary vertices move only along their boundary
    loop, so cuffs, hem and neckline keep their place."""
    nbrs = vertex_neighbours(faces, len(vertices))
    on_loop = np.zeros(len(vertices), bool)
    loop_nbrs: dict[int, list[int]] = {}
    for loop in boundary_loops(faces):
        on_loop[loop] = True
        for i, vi in enumerate(loop):
            loop_nbrs[int(vi)] = [int(loop[i - 1]), int(loop[(i + 1) % len(loop)])]
    nbrs = [np.array(loop_nbrs[i]) if on_loop[i] else nb for i, nb in enumerate(nbrs)]
    p = vertices.copy()
    for _ in range(iterations):
        p += 0.5 * (np.stack([p[nb].mean(axis=0) for nb in nbrs]) - p)
    return p


def hem_band(
    topo: Topology, ring: np.ndarray, rows: int, drop: float, ease: float, flare: float
) -> np.ndarray:
    """Rows below a closed hem loop (L, 3): each row ``drop / (rows - 1)`` lower, outside
    the body's hull at its height by ``ease``, never narrower than the row above, flaring.

    Returns:
        ((rows - 1) * L, 3) vertices, row-major.
    """
    body = np.isin(topo.vertex_part, [part_index(n) for n in TORSO + LEGS])
    pts = topo.vertices[body]
    centre = ring.mean(axis=0)
    d = ring - centre
    phi = np.arctan2(d[:, 0], d[:, 2])
    radius = np.hypot(d[:, 0], d[:, 2])
    e1, e2 = np.array([0.0, 0, 1]), np.array([1.0, 0, 0])
    out = []
    for k in range(1, rows):
        t = k / (rows - 1)
        y = ring[:, 1] - drop * t
        slab = pts[np.abs(pts[:, 1] - y.mean()) < 0.02]
        hull = star_radius(slab, np.array([centre[0], y.mean(), centre[2]]), e1, e2, phi, 0.15)
        radius = np.maximum(radius, hull + ease) + flare * drop / (rows - 1)
        xz = centre[[0, 2]] + radius[:, None] * np.stack([np.sin(phi), np.cos(phi)], axis=1)
        out.append(np.stack([xz[:, 0], y, xz[:, 1]], axis=1))
    return np.concatenate(out)


def loose_coat(topo: Topology, atlas: BodyAtlas, ease: float = 0.03) -> Piece:
    """Shell over torso, arms and hips, cut by ``coat_field``, offset by ``ease`` along the
    normals and smoothed (a loose fabric does not follow the small of the back), plus a
    20 cm flared hem that bridges the legs (coat length: mid-thigh). Corner UVs are the body
    atlas's: the coat is painted on the template sheet (``coat_texture``)."""
    v, f = topo.vertices, topo.faces
    allowed = parts_mask(topo, TORSO + ARMS + LEGS_UPPER_LEFT + LEGS_UPPER_RIGHT)
    is_arm = np.isin(topo.vertex_part, [part_index(n) for n in ARMS])
    cv, cf, src_local, cb = clip_by_field(v, f[allowed], coat_field(v, is_arm))
    main = largest_component(cf, len(cv))  # drop specks the cuff cut leaves on the hands
    cf, src_local, cb = cf[main], src_local[main], cb[main]
    src = np.flatnonzero(allowed)[src_local]
    used = np.unique(cf)
    remap = np.full(len(cv), -1)
    remap[used] = np.arange(len(used))
    cv, cf = cv[used], remap[cf]
    # every vertex sits in (one of) its source faces: offset along the interpolated normal
    vface = np.zeros(len(cv), np.int64)
    vbary = np.zeros((len(cv), 3))
    vface[cf.reshape(-1)] = np.repeat(src, 3)
    vbary[cf.reshape(-1)] = cb.reshape(-1, 3)
    n = (vertex_normals(v, f)[f[vface]] * vbary[:, :, None]).sum(1)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    # loose: concavities fill in (smoothing), but vertices only move along their normal, so
    # the texture stays where the atlas puts it and nothing sinks into the body
    base = cv + ease * n
    fill = np.maximum(((smooth_shell(base, cf, 10) - base) * n).sum(axis=1), 0.0)
    shell = base + fill[:, None] * n
    cand = np.flatnonzero(allowed)
    corner_uv = (atlas.corner_uv[src][:, None] * cb[:, :, :, None]).sum(2)  # (G, 3, 2)

    hem = min(boundary_loops(cf), key=lambda lp: shell[lp, 1].mean())
    rows, nb = 6, len(hem)
    band = hem_band(topo, shell[hem], rows, drop=0.2, ease=0.015, flare=0.2)
    idx = np.concatenate([hem, len(shell) + np.arange(len(band))])
    grid = grid_faces(rows, nb, True)
    verts = np.concatenate([shell, band])
    band_f = orient_outward(verts, idx[grid], shell[hem].mean(axis=0))
    hem_uv = np.zeros((len(shell), 2))  # the band continues the hem's texels
    hem_uv[cf.reshape(-1)] = corner_uv.reshape(-1, 2)
    faces = np.concatenate([cf, band_f])
    uv = np.concatenate([corner_uv, hem_uv[hem][grid % nb]]).astype(np.float32)

    fc, bc, _ = closest_surface_points(v, f, shell, cand)
    t = np.repeat(np.linspace(0, 1, rows)[1:], nb)
    anchors = Anchors.concat([Anchors.single(fc, bc), hip_leg_anchors(topo, band, 0.6 * t)])
    lag = np.concatenate([np.zeros(len(shell)), t])
    return Piece(verts.astype(np.float32), faces.astype(np.int32), uv,
                 anchors, lag.astype(np.float32))  # fmt: skip


def coat_texture(sheet: AtlasSheet) -> np.ndarray:
    """Coat on the atlas: olive cloth, shoulder seams, black rib collar and cuffs, a zip."""
    p = sheet.pos
    field = coat_field(p, sheet.is_arm)
    body = np.array([86, 96, 58.0])
    rng = np.random.default_rng(7)
    noise = cv2.GaussianBlur(rng.normal(0, 1, p.shape[:2]).astype(np.float32), (0, 0), 1.2)
    rgb = body * (1 + 0.06 * noise[..., None])
    seam = sheet.is_arm & (np.abs(arm_param(p, +1) * (p[..., 0] > 0) +
                            arm_param(p, -1) * (p[..., 0] < 0) - 0.02) < 0.01)  # fmt: skip
    rgb[seam] *= 0.7
    rib = smoothstep(0.028, 0.024, field) * (p[..., 1] > 0.1)  # collar, cuffs: no hem rib
    ribs = 0.85 + 0.15 * np.sin(p[..., 0] * 900)[..., None]
    rgb = rgb + (np.array([30, 30, 30.0]) * ribs - rgb) * rib[..., None]
    zip_line = (
        (np.abs(p[..., 0]) < 0.005) & (p[..., 2] > 0.0) & (sheet.part == part_index("torso_front"))
    )
    rgb[zip_line] = (170, 170, 160)
    return to_rgba(rgb, np.ones(p.shape[:2]))


# -- crossbody bag -----------------------------------------------------------------------------


def rounded_box(half: np.ndarray, n: int, roundness: float) -> tuple[np.ndarray, np.ndarray]:
    """Closed rounded box: six n x n grids on a cube, welded, blended toward a sphere."""
    g = np.linspace(-1, 1, n)
    a, b = np.meshgrid(g, g, indexing="ij")
    verts, faces = [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            q = np.zeros((n, n, 3))
            q[..., axis] = sign
            q[..., (axis + 1) % 3] = a
            q[..., (axis + 2) % 3] = b * sign
            faces.append(grid_faces(n, n, False) + len(verts) * n * n)
            verts.append(q.reshape(-1, 3))
    q = np.concatenate(verts)
    faces = np.concatenate(faces)
    key = np.rint(q * 1000).astype(np.int64)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    q = q[first]
    faces = inverse.reshape(-1)[faces]
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2])]
    sphere = q / np.linalg.norm(q, axis=1, keepdims=True)
    p = (1 - roundness) * q + roundness * sphere
    p = p / np.abs(p).max(axis=0) * half
    return p, orient_outward(p, faces, np.zeros(3))


def crossbody_bag(topo: Topology) -> Piece:
    """A rounded leather bag at the left hip and a strap over the right shoulder.

    The strap is the body's outer hull in the plane through the right shoulder and the left
    hip (so it spans the chest instead of dipping into it), 3.5 cm wide. The bag's vertices
    all share the same three anchors around the left hip: it moves as one piece with the
    pelvis instead of shearing with the thigh.
    """
    v, f = topo.vertices, topo.faces
    torso_faces = np.flatnonzero(parts_mask(topo, TORSO))
    torso_pts = v[np.isin(topo.vertex_part, [part_index(n) for n in TORSO])]
    # strap
    s_pt, h_pt = np.array([-0.1, 0.49, -0.01]), np.array([0.17, -0.1, 0.03])
    e1 = (h_pt - s_pt) / np.linalg.norm(h_pt - s_pt)
    e2 = np.array([0.0, 0.0, 1.0])
    e2 = e2 - (e2 @ e1) * e1
    e2 /= np.linalg.norm(e2)
    normal = np.cross(e1, e2)
    slab = torso_pts[np.abs((torso_pts - s_pt) @ normal) < 0.012]
    centre = slab.mean(axis=0)
    centre = centre - ((centre - s_pt) @ normal) * normal
    m = 140
    angles = np.linspace(-np.pi, np.pi, m, endpoint=False)
    r = circular_smooth(star_radius(slab, centre, e1, e2, angles, 0.06), 2) + 0.007
    ring = centre + r[:, None] * (np.cos(angles)[:, None] * e1 + np.sin(angles)[:, None] * e2)
    strap = np.concatenate([ring - 0.0175 * normal, ring + 0.0175 * normal])
    strap_f = orient_outward(strap, grid_faces(2, m, True), centre)
    strap_uv = grid_uv(2, m, strap_f, True) * np.array([1.0, 0.25]) + np.array([0.0, 0.0])
    fs, bs, _ = closest_surface_points(v, f, strap, torso_faces)
    strap_piece = Piece(strap, strap_f, strap_uv.astype(np.float32), Anchors.single(fs, bs),
                        np.zeros(len(strap)))  # fmt: skip

    # bag: broad side facing forward-out, hanging at the front of the left hip
    out = np.array([0.9, 0.0, 0.5])
    out /= np.linalg.norm(out)
    up = np.array([0.0, 1.0, 0.0])
    side = np.cross(up, out)
    hip_y = -0.06
    ring_pts = torso_pts[np.abs(torso_pts[:, 1] - hip_y) < 0.02]
    surface = ring_pts[np.argmax(ring_pts @ out)] + np.array([0.0, -0.06, 0.0])
    half = np.array([0.115, 0.085, 0.035])  # along side, up, out
    box, box_f = rounded_box(half, 9, 0.35)
    pos = surface + (half[2] + 0.012) * out + box[:, 0:1] * side + box[:, 1:2] * up \
        + box[:, 2:3] * out  # fmt: skip
    # UVs: front (out > 0) and back faces planar in (side, up); tiles in the top 3/4
    bu = (box[:, 0] / half[0] + 1) / 2
    bv = (box[:, 1] / half[1] + 1) / 2
    front = box[:, 2] > 0
    vert_uv = np.stack([np.where(front, bu * 0.5, 0.5 + bu * 0.5), 0.3 + 0.7 * bv], axis=1)
    bag_uv = vert_uv[box_f]
    anchor_pts = np.stack([surface, surface + 0.07 * up - 0.05 * side, surface + 0.07 * up +
                           0.05 * side])  # fmt: skip
    fa, ba, _ = closest_surface_points(v, f, anchor_pts, torso_faces)
    n = len(pos)
    bag_anchors = Anchors(np.tile(fa, (n, 1)), np.tile(ba, (n, 1, 1)), np.ones((n, 3)))
    bag_piece = Piece(pos, box_f, bag_uv.astype(np.float32), bag_anchors, np.full(n, 0.6))
    return merge([strap_piece, bag_piece])


def bag_texture(size: int = 512) -> np.ndarray:
    """Bag atlas: front with flap and buckle (u < 0.5), back (u > 0.5), strap webbing (v <
    0.25)."""
    s = size
    img = np.zeros((s, s, 3), np.float32)
    leather = np.array([122, 70, 40.0])
    rng = np.random.default_rng(3)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (s, s)).astype(np.float32), (0, 0), 1.5)
    img[:] = leather * (1 + 0.08 * grain[..., None])
    top = int(s * (1 - (0.3 + 0.7 * 1.0)))  # v = 1 is row 0
    flap_bottom = int(s * (1 - (0.3 + 0.7 * 0.45)))
    img[top:flap_bottom, : s // 2] *= 0.75
    cv2.line(img, (0, flap_bottom), (s // 2, flap_bottom), (60, 34, 20), 3, cv2.LINE_AA)
    cx = s // 4
    cv2.rectangle(img, (cx - 18, flap_bottom - 22), (cx + 18, flap_bottom + 8), (212, 175, 80), -1)
    cv2.rectangle(img, (cx - 10, flap_bottom - 14), (cx + 10, flap_bottom), (122, 70, 40), -1)
    for x in range(6, s // 2, 14):  # stitches around the flap
        cv2.line(img, (x, flap_bottom - 6), (x + 6, flap_bottom - 6), (200, 170, 120), 1)
    strap_top = int(s * 0.75)
    yy = np.arange(s - strap_top)[:, None]
    web = np.array([40, 36, 34.0]) * (0.9 + 0.1 * np.sin(yy * 1.3))[..., None]
    img[strap_top:] = np.broadcast_to(web, (s - strap_top, s, 3))
    img[strap_top : strap_top + 4] = (90, 80, 70)
    img[-4:] = (90, 80, 70)
    return to_rgba(img, np.ones((s, s)))


# -- main ---------------------------------------------------------------------------------------


def build_mesh_garment(
    out: Path, name: str, topo: Topology, piece: Piece, texture: np.ndarray
) -> None:
    """Bind the finished mesh (positions and normals) and write it."""
    a = piece.anchors
    normals = vertex_normals(piece.vertices, piece.faces)
    binding = make_binding(
        topo.vertices, topo.faces, piece.vertices, normals, a.face, a.bary, a.weight
    )
    save_mesh_garment(
        out / f"{name}.npz", name, piece.vertices, piece.faces, piece.corner_uv,
        binding, piece.lag, texture, topo.num_faces,
    )  # fmt: skip
    print(f"  {name}: {len(piece.vertices)} vertices, {len(piece.faces)} faces, "
          f"{a.face.shape[1]} anchor(s) per vertex")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "assets" / "garments")
    ap.add_argument("--size", type=int, default=1024, help="atlas texture size")
    ap.add_argument("--template-size", type=int, default=2048)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    topo = Topology.load("high")
    atlas = BodyAtlas.from_topology(topo)
    sheet = AtlasSheet.build(topo, atlas, args.size)
    template = AtlasSheet.build(topo, atlas, args.template_size)
    write_rgba(args.out / "uv_template.png", uv_template(topo, atlas, template))
    textures: dict[str, Callable[[], np.ndarray]] = {
        "striped_tshirt": lambda: striped_tshirt(sheet),
        "patterned_leggings": lambda: patterned_leggings(sheet),
        "chest_logo": lambda: place_on_region(
            logo_image(), REGIONS["chest"], topo, atlas, (args.size, args.size), 0.6
        ),
    }
    for name, make in textures.items():
        write_rgba(args.out / f"{name}.png", make())
        print(f"  {name}: atlas texture {args.size}x{args.size}")
    build_mesh_garment(args.out, "flared_skirt", topo, flared_skirt(topo), tartan(1024, 256))
    coat_sheet = AtlasSheet.build(topo, atlas, 512)
    build_mesh_garment(args.out, "loose_coat", topo, loose_coat(topo, atlas),
                       coat_texture(coat_sheet))  # fmt: skip
    build_mesh_garment(args.out, "crossbody_bag", topo, crossbody_bag(topo), bag_texture())
    print(f"wrote {args.out} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
