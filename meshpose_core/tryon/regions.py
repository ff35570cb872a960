"""Plain images placed on a body region ("chest", "back", ...) of the texture atlas.

A region is a set of DensePose parts cut to a height band of the rest template and a viewing
direction. The image is projected onto the region like a decal seen from that direction:
every atlas texel of the region knows its rest 3D position, so the image lands with its true
aspect and size on the body whatever the atlas distortion, and never outside the region.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..render import vertex_normals
from ..topology import Topology, part_index
from .atlas import BodyAtlas, texel_attribute, texel_barycentrics
from .texture import premultiply


@dataclass(frozen=True)
class Region:
    """parts: DensePose part names; y_range: rest-template height band (metres, +Y up) of
    the faces' centroids; right / up: the image's x and y directions on the body as seen by
    a viewer facing the region (canonical frame: +X person's left, +Z forward)."""

    parts: tuple[str, ...]
    y_range: tuple[float, float]
    right: tuple[float, float, float]
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)


REGIONS: dict[str, Region] = {
    "chest": Region(("torso_front",), (0.26, 0.46), right=(1.0, 0.0, 0.0)),
    "belly": Region(("torso_front",), (0.0, 0.24), right=(1.0, 0.0, 0.0)),
    "back": Region(("torso_back",), (0.12, 0.48), right=(-1.0, 0.0, 0.0)),
    "left_sleeve": Region(
        ("upper_arm_left_outside", "upper_arm_left_inside"), (0.3, 0.5), right=(0.0, 0.0, -1.0)
    ),
    "right_sleeve": Region(
        ("upper_arm_right_outside", "upper_arm_right_inside"), (0.3, 0.5), right=(0.0, 0.0, 1.0)
    ),
    "left_thigh": Region(("upper_leg_left_front",), (-0.35, -0.1), right=(1.0, 0.0, 0.0)),
    "right_thigh": Region(("upper_leg_right_front",), (-0.35, -0.1), right=(1.0, 0.0, 0.0)),
}


def region_faces(topology: Topology, region: Region) -> np.ndarray:
    """(F,) bool: faces of the region's parts whose rest centroid lies in its height band."""
    parts = [part_index(p) for p in region.parts]
    y = topology.vertices[topology.faces][:, :, 1].mean(axis=1)
    lo, hi = region.y_range
    return np.isin(topology.face_part, parts) & (y >= lo) & (y <= hi)


def _unpremultiply(premul: np.ndarray) -> np.ndarray:
    a = premul[..., 3:4].astype(np.float32)
    rgb = premul[..., :3].astype(np.float32) * 255.0 / np.maximum(a, 1.0)
    return np.concatenate([np.clip(np.rint(rgb), 0, 255), a], axis=-1).astype(np.uint8)


def place_on_region(
    image_rgba: np.ndarray,
    region: Region,
    topology: Topology,
    atlas: BodyAtlas,
    size: tuple[int, int] = (1024, 1024),
    width_fraction: float = 0.7,
    min_facing: float = 0.25,
) -> np.ndarray:
    """Project an image onto a region of the atlas.

    The image is centred on the region (as seen along its viewing direction) and as wide as
    ``width_fraction`` of it, or less where its height would not fit. Texels whose surface
    turns away from the viewer by more than ``acos(min_facing)`` are left out (the sides of
    the torso would smear it).

    Args:
        image_rgba: (h, w, 4) uint8 straight alpha (a logo, a photo).
        size: (width, height) of the atlas texture made.

    Returns:
        (H, W, 4) uint8 straight-alpha atlas texture, transparent outside the image.
    """
    width, height = size
    right = np.asarray(region.right, np.float64)
    up = np.asarray(region.up, np.float64)
    toward = np.cross(right, up)  # from the body toward the viewer
    faces_in = region_faces(topology, region)
    if not faces_in.any():
        raise ValueError(f"region {region} has no faces")
    fmap = atlas.face_map(width, height)
    bary = texel_barycentrics(atlas.corner_uv, fmap)
    v, f = topology.vertices, topology.faces
    pos = texel_attribute(fmap, bary, v[f])
    normal = texel_attribute(fmap, bary, vertex_normals(v, f)[f])
    inside = (fmap >= 0) & faces_in[np.maximum(fmap, 0)] & (normal @ toward >= min_facing)

    corners = v[f[faces_in]].reshape(-1, 3)
    a, b = corners @ right, corners @ up
    centre = np.array([(a.min() + a.max()) / 2, (b.min() + b.max()) / 2])
    ih, iw = image_rgba.shape[:2]
    span = min(width_fraction * (a.max() - a.min()), (b.max() - b.min()) * 0.9 * iw / ih)
    px_per_m = iw / span
    rows, cols = np.nonzero(inside)
    p = pos[rows, cols].astype(np.float64)
    maps = np.full((2, height, width), -10.0, np.float32)  # outside the image: transparent
    maps[0, rows, cols] = (p @ right - centre[0]) * px_per_m + iw / 2 - 0.5
    maps[1, rows, cols] = (centre[1] - p @ up) * px_per_m + ih / 2 - 0.5
    placed = cv2.remap(
        premultiply(image_rgba), maps[0], maps[1], cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0),
    )  # fmt: skip
    placed[~inside] = 0
    return _unpremultiply(placed)
