"""The side view: one person's high-poly mesh, shaded, seen from a direction the user turns.

The image shows the frame from the camera; depth errors only show from the side. This draws
``PersonResult.vertices_high`` with ``meshpose_core.render`` (orthographic, fitted to the
view), so it is a picture of exactly what the pipeline returned. Runs in the worker thread; its
rasterizer is the pipeline renderer's (one GL context per thread), passed to each call.
"""

from __future__ import annotations

import numpy as np

from meshpose_core.pipeline import PersonResult
from meshpose_core.pipeline.layers import track_color
from meshpose_core.render import (
    Fragments,
    Rasterizer,
    fit_orthographic,
    overlay,
    shade_mesh,
    yaw_matrix,
)
from meshpose_core.topology import Topology

# image px (x right, y down, z away) -> body frame (x right, y up, z toward the camera)
IMAGE_TO_BODY = np.float32([1.0, -1.0, -1.0])
BACKGROUND_TOP, BACKGROUND_BOTTOM = (46, 49, 56), (22, 24, 28)


def pitch_matrix(pitch_deg: float) -> np.ndarray:
    """(3, 3) rotation about +X: positive tilts the view to look down on the body."""
    a = np.deg2rad(pitch_deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def main_person(people: list[PersonResult]) -> PersonResult | None:
    """The person the side view follows: the largest box (the subject, usually)."""
    if not people:
        return None
    return max(people, key=lambda p: float((p.box[2] - p.box[0]) * (p.box[3] - p.box[1])))


def gradient(width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 vertical gradient: the view's backdrop."""
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    rgb = (1 - t) * np.float32(BACKGROUND_TOP) + t * np.float32(BACKGROUND_BOTTOM)
    return np.ascontiguousarray(np.broadcast_to(rgb[:, None, :], (height, width, 3))).astype(
        np.uint8
    )


class Turntable:
    """Renders a person's mesh turned by (yaw, pitch) degrees; keeps its buffers between
    calls."""

    def __init__(self) -> None:
        self._faces = Topology.load("high").faces
        self._frags: Fragments | None = None
        self._backdrop = gradient(1, 1)

    def render(
        self,
        person: PersonResult,
        yaw: float,
        pitch: float,
        size: tuple[int, int],
        rasterizer: Rasterizer,
    ) -> np.ndarray:
        """(height, width, 3) uint8 RGB picture of ``person`` seen from (yaw, pitch); size is
        (width, height)."""
        width, height = size
        body = person.vertices_high * IMAGE_TO_BODY
        turned = body @ (pitch_matrix(pitch) @ yaw_matrix(yaw)).T
        v = fit_orthographic(turned, width, height, margin=0.08)
        if self._frags is None or not self._frags.is_buffer_for(width, height):
            self._frags = Fragments.allocate(width, height)
        if self._backdrop.shape[:2] != (height, width):
            self._backdrop = gradient(width, height)
        mesh = [(v, self._faces)]
        frags = rasterizer.rasterize(mesh, width, height, out=self._frags)
        shaded = shade_mesh(frags, mesh, track_color(person.track_id)[None].astype(np.float32))
        return overlay(self._backdrop, shaded, frags.mask, 1.0)
