"""From metres to the renderer's pixel + depth convention.

Input vertices are in the canonical body frame (metres): +Y up, +X the person's left, +Z the
direction the person faces (toward a camera in front of them). Output vertices are what
``rasterize`` takes: x right, y down, z = depth in pixels, larger = farther. Both transforms are
proper rotations (+ scale), so faces keep their winding and ``normals.vertex_normals`` of the
output face the camera with negative z.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def yaw_matrix(yaw_deg: float) -> np.ndarray:
    """(3, 3) rotation about +Y by ``yaw_deg``; positive turns the person toward their own left
    (their facing direction +Z rotates toward +X)."""
    a = np.deg2rad(yaw_deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _bbox_centre(vertices: np.ndarray) -> np.ndarray:
    return (vertices.min(axis=0) + vertices.max(axis=0)) / 2.0


def project_pinhole(
    vertices: np.ndarray,
    width: int,
    height: int,
    *,
    focal_px: float,
    distance: float = 3.0,
    yaw_deg: float = 0.0,
    target: Sequence[float] | None = None,
    principal_point: Sequence[float] | None = None,
) -> np.ndarray:
    """Project a body through a pinhole camera looking at it from the front.

    The body is turned by ``yaw_deg`` about +Y around ``target`` (default: its bounding-box
    centre), and ``target`` is placed ``distance`` metres in front of the camera, on the optical
    axis. With camera depth ``d`` of a vertex (metres along the view direction):

        x = cx + f * X / d,   y = cy - f * Y / d,   z = f * (1 - distance / d)

    ``z`` is in pixels, 0 at the target's depth, about ``f / distance`` pixels per metre there;
    being affine in ``1 / d`` it interpolates linearly in screen space, so depth ordering of
    the perspective-projected triangles is exact. Vertices with ``d <= 0`` (behind the camera)
    become NaN and their faces are not drawn.

    Args:
        vertices: (V, 3) metres, canonical body frame.
        width, height: image size; the principal point defaults to its centre.
        focal_px: focal length in pixels.
        distance: metres from the camera to ``target``.
        yaw_deg: body rotation about +Y.
        target: (3,) body-frame point placed on the optical axis.
        principal_point: (cx, cy) in pixels.

    Returns:
        (V, 3) float32 pixel-space vertices.
    """
    v = np.asarray(vertices, np.float64)
    centre = _bbox_centre(v) if target is None else np.asarray(target, np.float64)
    cam = (v - centre) @ yaw_matrix(yaw_deg).T  # camera frame: x right, y up, z toward camera
    d = distance - cam[:, 2]
    cx, cy = (width / 2.0, height / 2.0) if principal_point is None else principal_point
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_d = np.where(d > 0, 1.0 / d, np.nan)
    out = np.stack(
        [
            cx + focal_px * cam[:, 0] * inv_d,
            cy - focal_px * cam[:, 1] * inv_d,
            focal_px * (1.0 - distance * inv_d),
        ],
        axis=1,
    )
    return out.astype(np.float32)


def fit_orthographic(
    vertices: np.ndarray,
    width: int,
    height: int,
    margin: float = 0.05,
    *,
    yaw_deg: float = 0.0,
) -> np.ndarray:
    """Orthographic front view of a body, scaled and centred to fill the image.

    The body (turned by ``yaw_deg`` about +Y) is viewed along -Z; the uniform scale makes its
    bounding box fit inside the image minus ``margin`` (a fraction of the width on the left and
    right, of the height on top and bottom), centred. ``z`` is depth in pixels (same scale as
    x and y), 0 at the bounding-box centre.

    Args:
        vertices: (V, 3) metres, canonical body frame.
        width, height: image size in pixels.
        margin: border on each side as a fraction of the image size, in [0, 0.5).
        yaw_deg: body rotation about +Y.

    Returns:
        (V, 3) float32 pixel-space vertices.
    """
    if not 0.0 <= margin < 0.5:
        raise ValueError(f"margin must be in [0, 0.5), got {margin}")
    v = np.asarray(vertices, np.float64) @ yaw_matrix(yaw_deg).T
    centre = _bbox_centre(v)
    extent = np.maximum(v.max(axis=0) - v.min(axis=0), 1e-12)
    scale = min(width * (1 - 2 * margin) / extent[0], height * (1 - 2 * margin) / extent[1])
    p = (v - centre) * scale
    out = np.stack([width / 2.0 + p[:, 0], height / 2.0 - p[:, 1], -p[:, 2]], axis=1)
    return out.astype(np.float32)
