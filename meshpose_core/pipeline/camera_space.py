"""Camera-space meshes: image-pixel meshes -> metres in the camera frame.

The network gives each person's mesh in image pixels: x, y where the vertices project, z their
depth relative to the root (hip midpoint) in pixels at the root's scale, i.e. ``z = f (d -
d_root) / d_root`` for a vertex at camera depth ``d`` (the synthetic training targets'
definition, ``data.synthetic.sample``). Two things an image cannot tell are assumed:

* **the camera**: a pinhole with the principal point at the image centre and focal length
  ``f`` from a field of view across the larger image side (``fov_deg``; default 53.13°,
  i.e. ``f`` = the larger side in pixels, the renderer's own assumption; phone main cameras
  and webcams are 55-70°);
* **the body's real size**: every person is the template body (1.62 m tall in its reference
  pose, ``Topology.load("low")``), or ``height_m`` tall when given. The mesh's pixels per
  metre ``k = f / d_root`` are then the ratio of its edge lengths in pixels to the
  template's in metres (edge lengths barely change with pose), and ``d = (f + z) / k``.

With those, every vertex is un-projected exactly: ``X = (x - cx) d / f``, ``Y = (y - cy) d /
f``, ``Z = d`` (OpenCV's camera frame: x right, y down, z forward, metres). A person 10 %
taller than assumed comes out 10 % farther and larger; a wrong field of view scales depths
(and x, y with them) by the ratio of the focal lengths. Measured on synthetic frames with
known cameras: ``python -m meshpose_core.bench camera`` (figures in docs/pipeline.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from meshpose_core.topology import Topology

# f = the larger image side: the field of view the renderer also assumes
DEFAULT_FOV_DEG = math.degrees(2.0 * math.atan(0.5))


@dataclass(frozen=True)
class CameraSpaceConfig:
    """enabled: compute ``PersonResult.vertices_camera`` (+ ``_high``); fov_deg: the camera's
    field of view across the larger image side (None: ``DEFAULT_FOV_DEG``); height_m: every
    person's height in metres (None: the template's)."""

    enabled: bool = False
    fov_deg: float | None = None
    height_m: float | None = None

    def __post_init__(self) -> None:
        if self.fov_deg is not None and not 1.0 <= self.fov_deg <= 179.0:
            raise ValueError(f"field of view must be in [1, 179] degrees, got {self.fov_deg}")
        if self.height_m is not None and not 0.3 <= self.height_m <= 3.0:
            raise ValueError(f"body height must be in [0.3, 3] metres, got {self.height_m}")


def focal_px(width: int, height: int, fov_deg: float | None = None) -> float:
    """Focal length in pixels of a ``fov_deg`` field of view across the larger image side."""
    fov = DEFAULT_FOV_DEG if fov_deg is None else fov_deg
    return max(width, height) / 2.0 / math.tan(math.radians(fov) / 2.0)


def edge_length_sum(vertices: np.ndarray, edges: np.ndarray) -> float:
    """Total length of a mesh's edges. vertices (V, 3), edges (E, 2) vertex indices."""
    v = np.asarray(vertices, np.float64)
    return float(np.linalg.norm(v[edges[:, 0]] - v[edges[:, 1]], axis=1).sum())


def unproject(
    vertices_px: np.ndarray, px_per_m: float, focal: float, centre: np.ndarray
) -> np.ndarray:
    """(V, 3) image px (network convention: x, y with the top-left pixel centre at 0; z depth
    relative to the root in px at the root's scale) -> (V, 3) float32 camera metres (x right,
    y down, z forward). px_per_m = focal / root depth; centre (2,) principal point, network px."""
    v = np.asarray(vertices_px, np.float64)
    d = (focal + v[:, 2]) / px_per_m
    xy = (v[:, :2] - centre) * (d / focal)[:, None]
    return np.concatenate([xy, d[:, None]], axis=1).astype(np.float32)


def camera_meta(config: CameraSpaceConfig, width: int, height: int) -> dict[str, float]:
    """The assumptions behind a run's camera-space meshes, for the exports' metadata."""
    fov = DEFAULT_FOV_DEG if config.fov_deg is None else config.fov_deg
    return {
        "focal_px": round(focal_px(width, height, config.fov_deg), 3),
        "fov_deg": round(fov, 3),
        "body_height_m": round(CameraLifter(config).height_m, 3),
    }


class CameraLifter:
    """Image-pixel meshes of one frame size -> camera metres (see the module docstring)."""

    def __init__(self, config: CameraSpaceConfig) -> None:
        self.config = config
        low = Topology.load("low")
        self._edges = low.edges
        template_height = float(np.ptp(low.vertices[:, 1]))
        self.height_m = config.height_m or template_height
        self._template_edges_m = edge_length_sum(low.vertices, low.edges) * (
            self.height_m / template_height
        )

    def px_per_metre(self, vertices_low_px: np.ndarray) -> float:
        """Pixels per metre at the root's depth, from the (518, 3) low mesh's edge lengths."""
        return edge_length_sum(vertices_low_px, self._edges) / self._template_edges_m

    def __call__(
        self, width: int, height: int, vertices_low_px: np.ndarray, *more_px: np.ndarray
    ) -> list[np.ndarray]:
        """The low mesh (and any more vertex arrays of the same person, e.g. the high mesh)
        in camera metres, all with the scale of the low mesh."""
        f = focal_px(width, height, self.config.fov_deg)
        k = max(self.px_per_metre(vertices_low_px), 1e-6)
        centre = np.array([width / 2.0 - 0.5, height / 2.0 - 0.5])
        return [unproject(v, k, f, centre) for v in (vertices_low_px, *more_px)]
