"""A pinhole camera that renders a body straight into a training crop.

Pixel convention of the renderer: pixel (r, c) is sampled at (c + 0.5, r + 0.5). Network
targets use pixel centres at integers, so ``to_network_px`` subtracts 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PinholeCamera:
    """World -> camera: x_cam = R @ x + t (camera looks along +z_cam, y_cam down).

    rotation (3, 3), translation (3,), focal (px), principal point (cx, cy) in renderer px.
    """

    rotation: np.ndarray
    translation: np.ndarray
    focal: float
    cx: float
    cy: float

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world -> (..., 3) camera coordinates (metres, z = depth)."""
        return points @ self.rotation.T + self.translation

    def project(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world -> (..., 3): renderer pixel x, y and camera depth z (metres)."""
        c = self.to_camera(points)
        z = np.maximum(c[..., 2], 1e-6)
        return np.stack(
            [self.focal * c[..., 0] / z + self.cx, self.focal * c[..., 1] / z + self.cy, z], -1
        )


def canonical_to_camera_rotation(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """(3, 3) rotation for a camera in front of a body facing it (canonical +Z towards the
    camera, +Y up), then turned by yaw (about the body's up axis), pitch and roll (degrees).
    Camera y is down, so the base rotation flips y and z."""
    base = np.diag([1.0, -1.0, -1.0])  # the person's left (+X) appears on the image's right
    y, p, r = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ base @ ry


def to_network_px(xy: np.ndarray) -> np.ndarray:
    """(..., 2) renderer pixel coordinates -> network coordinates (top-left pixel centre =
    0)."""
    return xy - 0.5
