"""Render one supervised training crop from posed bodies (paper Sec. 4: synthetic data).

Input: bodies in world metres (canonical frame), the first being the target person; output:
a dict of numpy arrays with the keys ``MeshPoseLoss`` reads (network pixel convention: top-left
pixel centre = 0; depth relative to the root in pixels at the root's scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meshpose_core.render import Fragments, Rasterizer, vertex_normals
from meshpose_core.topology import NUM_COCO

from .appearance import Appearance, random_background, smooth_noise
from .camera import PinholeCamera, canonical_to_camera_rotation, to_network_px
from .dense_labels import HighToLow

HIP_KEYPOINTS = (11, 12)  # COCO left/right hip: their midpoint is the depth root


@dataclass(frozen=True)
class FramingConfig:
    """Random camera framing. scale: target body extent / crop size (>1 truncates);
    selfie_prob: close camera (strong perspective) framing the upper body."""

    crop_size: tuple[int, int] = (192, 192)
    scale: tuple[float, float] = (0.6, 1.05)
    shift: float = 0.12  # max centre offset, fraction of the crop
    distance: tuple[float, float] = (2.0, 9.0)
    yaw_deg: tuple[float, float] = (-180.0, 180.0)
    pitch_deg: tuple[float, float] = (-20.0, 25.0)
    roll_deg: tuple[float, float] = (-12.0, 12.0)
    selfie_prob: float = 0.12
    dense_points: int = 160
    visibility_tolerance_m: float = 0.02


@dataclass
class Body:
    """One posed body: high (6890, 3) and low (518, 3) vertices in world metres."""

    high: np.ndarray
    low: np.ndarray


def frame_camera(
    body: Body, rng: np.random.Generator, cfg: FramingConfig
) -> tuple[PinholeCamera, float]:
    """A camera looking at the body from a random direction, focal length and principal point
    chosen so the body spans ``scale`` of the crop; returns (camera, scale)."""
    h, w = cfg.crop_size
    selfie = rng.random() < cfg.selfie_prob
    rot = canonical_to_camera_rotation(
        rng.uniform(*cfg.yaw_deg) * (0.3 if selfie else 1.0),
        rng.uniform(*cfg.pitch_deg),
        rng.uniform(*cfg.roll_deg),
    )
    dist = rng.uniform(0.6, 1.2) if selfie else rng.uniform(*cfg.distance)
    scale = rng.uniform(1.6, 2.6) if selfie else rng.uniform(*cfg.scale)
    centre = body.low.mean(0)
    if selfie:  # aim at the chest
        centre = centre + np.array([0.0, 0.35, 0.0])
    t = -rot @ centre + np.array([0.0, 0.0, dist])
    probe = PinholeCamera(rot, t, 1.0, 0.0, 0.0).project(body.low)
    extent = max(np.ptp(probe[:, 0]), np.ptp(probe[:, 1]))
    focal = scale * min(h, w) / max(extent, 1e-6)
    mid = (probe[:, :2].max(0) + probe[:, :2].min(0)) / 2 * focal
    shift = rng.uniform(-cfg.shift, cfg.shift, 2) * np.array([w, h])
    if selfie:
        mid = PinholeCamera(rot, t, focal, 0.0, 0.0).project(centre[None])[0, :2]
    cx, cy = w / 2 - mid[0] + shift[0], h / 2 - mid[1] + shift[1]
    return PinholeCamera(rot, t, float(focal), float(cx), float(cy)), scale


def _pixel_mesh(cam: PinholeCamera, vertices: np.ndarray, depth_scale: float) -> np.ndarray:
    """Renderer pixel x, y and depth scaled to pixels (keeps normals and ordering right)."""
    p = cam.project(vertices)
    p[:, 2] *= depth_scale
    return p


def _colour(
    frags: Fragments,
    meshes,
    appearances: list[Appearance],
    h2l: HighToLow,
    rng: np.random.Generator,
) -> np.ndarray:
    """(H, W, 3) float RGB of the bodies: part colours, stripes, noise, Lambert light."""
    h, w = frags.height, frags.width
    out = np.zeros((h, w, 3), np.float32)
    part = h2l.high.face_part
    noise = smooth_noise(rng, (h, w), 12)
    yy, xx = np.mgrid[0:h, 0:w]
    for m, ((verts, faces), app) in enumerate(zip(meshes, appearances, strict=True)):
        sel = frags.mesh_id == m
        if not sel.any():
            continue
        fid = frags.face_id[sel]
        normals = vertex_normals(verts, faces)
        n = np.einsum("nk,nkd->nd", frags.bary[sel], normals[faces[fid]])
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
        light = app.ambient + (1 - app.ambient) * np.clip(n @ -app.light_dir, 0, 1)
        col = app.part_color[part[fid]]
        tex = 1 + app.noise_strength * (noise[sel] - 0.5) * 2
        if app.stripe_period > 0:
            stripes = np.sin((xx[sel] + yy[sel] * 0.3) * 2 * np.pi / app.stripe_period) > 0
            garment = np.isin(part[fid], (1, 2))
            tex = tex * np.where(stripes & garment, 0.75, 1.0)
        head = np.isin(part[fid], (23, 24))
        # hair-like: darken the top/back of the head
        hair = head & (n[:, 1] < -0.2)
        tex = np.where(hair, tex * rng.uniform(0.15, 0.6), tex)
        out[sel] = col * tex[:, None] * light[:, None]
    return out


def render_sample(
    rast: Rasterizer,
    bodies: list[Body],
    appearances: list[Appearance],
    h2l: HighToLow,
    rng: np.random.Generator,
    cfg: FramingConfig | None = None,
    background: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """One crop with full supervision of ``bodies[0]``; further bodies occlude and distract.

    image (H, W, 3) uint8, silhouette (H, W) bool; dp_points (P, 2) network px, dp_face (P,)
    low-mesh face, dp_bary (P, 3), dp_mask (P,) bool; vertices (518, 3) network px (z
    relative to the hips, same scale), visibility (518,), keypoints (17, 3) x, y network px,
    visible; vertices_world (518, 3) metres. ``background`` (H, W, 3) or random.
    """
    cfg = cfg or FramingConfig()
    h, w = cfg.crop_size
    cam, _ = frame_camera(bodies[0], rng, cfg)
    target_low = cam.project(bodies[0].low)
    lm_i, lm_w = h2l.low.landmark_index[:NUM_COCO], h2l.low.landmark_weight[:NUM_COCO]
    kp_world = np.einsum("ks,ksd->kd", lm_w, bodies[0].low[lm_i])
    root = cam.project(kp_world[list(HIP_KEYPOINTS)].mean(0, keepdims=True))[0]
    depth_scale = cam.focal / root[2]
    meshes = [(_pixel_mesh(cam, b.high, depth_scale), h2l.high.faces) for b in bodies]
    frags = rast.rasterize(meshes, w, h)

    bg = background if background is not None else random_background(rng, (h, w))
    colour = _colour(frags, meshes, appearances, h2l, rng)
    image = np.where(frags.mask[..., None], colour, bg.astype(np.float32))
    image = np.clip(image, 0, 255).astype(np.uint8)
    person = frags.mesh_id == 0

    # dense labels at random pixels of the visible target
    ys, xs = np.nonzero(person)
    n = min(cfg.dense_points, len(ys))
    pick = rng.choice(len(ys), size=n, replace=False) if n else np.zeros(0, int)
    low_face, low_bary = h2l.label(
        frags.face_id[ys[pick], xs[pick]], frags.bary[ys[pick], xs[pick]]
    )
    dp_points = np.zeros((cfg.dense_points, 2), np.float32)
    dp_face = np.zeros(cfg.dense_points, np.int64)
    dp_bary = np.zeros((cfg.dense_points, 3), np.float32)
    dp_mask = np.zeros(cfg.dense_points, bool)
    dp_points[:n] = np.stack([xs[pick], ys[pick]], 1).astype(np.float32)  # network px
    dp_face[:n], dp_bary[:n], dp_mask[:n] = low_face, low_bary, True

    # per-vertex visibility: inside the crop and not behind the rendered surface
    px = target_low[:, :2]
    inside = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
    col = np.clip(px[:, 0].astype(int), 0, w - 1)
    row = np.clip(px[:, 1].astype(int), 0, h - 1)
    surface = frags.depth[row, col] / depth_scale
    visible = (
        inside
        & (frags.mesh_id[row, col] == 0)
        & (target_low[:, 2] <= surface + cfg.visibility_tolerance_m)
    )
    vertices = np.concatenate(
        [to_network_px(px), ((target_low[:, 2] - root[2]) * depth_scale)[:, None]], axis=1
    )
    kp = cam.project(kp_world)
    kp_vis = np.einsum("ks,ks->k", lm_w, visible[lm_i].astype(np.float32)) > 0.5
    keypoints = np.concatenate([to_network_px(kp[:, :2]), kp_vis[:, None]], 1)
    return {
        "image": image,
        "silhouette": person,
        "dp_points": dp_points,
        "dp_face": dp_face,
        "dp_bary": dp_bary,
        "dp_mask": dp_mask,
        "vertices": vertices.astype(np.float32),
        "visibility": visible.astype(np.float32),
        "keypoints": keypoints.astype(np.float32),
        "vertices_world": bodies[0].low.astype(np.float32),
    }
