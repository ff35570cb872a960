"""A frame's people as the painters take them: every body and mesh garment posed in renderer
pixels, with normals, visibility and size.

``TryOnPerson`` is what a caller gives per person; ``BodyPoser`` turns it into a
``PosedPerson``: the body moved to the renderer's pixel convention (+0.5), its normals and
face cross products in one compiled pass (``render.normals``), its visibility upsampled to
the high level, its size from the torso's area, and each mesh garment posed on it
(``binding.pose_binding``) with the hem lag of tracked people (``motion.HemLag``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..render.normals import VertexNormals
from ..topology import Topology, Upsampling, part_index
from .binding import interpolate_at_anchors, pose_binding, surface_area
from .garment import Garment, MeshGarment, TextureGarment
from .motion import HemLag
from .overlap import xy_box

TORSO_PARTS = (part_index("torso_back"), part_index("torso_front"))


@dataclass(frozen=True, eq=False)
class TryOnPerson:
    """One person of a frame and what they wear.

    vertices: (6890, 3) high-level body in image px, the network's convention (top-left
    pixel centre = 0, z = depth in px, larger = farther); garments: drawn in order (texture
    garments later in the list paint over earlier ones); visibility: (518,) low-level or
    (6890,) high-level in [0, 1], None = fully visible; track_id: enables secondary motion;
    depth_order: (a, b) maps this person's z to a depth comparable across people,
    ``a * z + b`` (the pipeline's ``depth_order``); (1, 0) when z already is.
    """

    vertices: np.ndarray
    garments: tuple[Garment, ...]
    visibility: np.ndarray | None = None
    track_id: int | None = None
    depth_order: tuple[float, float] = (1.0, 0.0)


@dataclass(eq=False)
class PosedPerson:
    """One person this frame, in renderer pixels (+0.5).

    vertices (V, 3) float32 px; normals (V, 3) float32 unit; face_normals (F, 3) float32
    cross products (px²); visibility (V,) float32 in [0, 1]; scale: pixels per rest-template
    metre; textures: the texture garments worn; meshes: per mesh garment (garment, vertices
    (G, 3) px, normals (G, 3), visibility (G,)).
    """

    vertices: np.ndarray
    normals: np.ndarray
    face_normals: np.ndarray
    visibility: np.ndarray
    scale: float
    textures: list[TextureGarment] = field(default_factory=list)
    meshes: list[tuple[MeshGarment, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=list
    )

    def front(self) -> np.ndarray:
        """(F_front,) indices of the faces turned toward the camera: a closed body's back
        faces never win the depth test, and not drawing them saves ~40 % of the
        rasterisation (outward normals face the camera with z < 0)."""
        return np.flatnonzero(self.face_normals[:, 2] <= 0)

    def painted_faces(self) -> np.ndarray | None:
        """(F,) bool body faces any of the texture garments paints, None without any."""
        if not self.textures:
            return None
        return np.logical_or.reduce([t.faces for t in self.textures])

    def reach(self) -> np.ndarray:
        """(2, 2) [min, max] screen xy (px) of the body and all its garments (NaN-free)."""
        box = np.stack([xy_box(m) for m in (self.vertices, *(gv for _, gv, _, _ in self.meshes))])
        out = np.stack([box[:, 0].min(axis=0), box[:, 1].max(axis=0)])
        if np.isfinite(out).all():
            return out
        pts = np.concatenate([self.vertices[:, :2]] + [gv[:, :2] for _, gv, _, _ in self.meshes])
        pts = pts[np.isfinite(pts).all(axis=1)]
        return np.stack([pts.min(axis=0), pts.max(axis=0)]) if len(pts) else np.zeros((2, 2))

    def extents(self) -> list[np.ndarray]:
        """(2, 2) [min, max] screen xy (px) of every garment (texture ones: their painted
        part)."""
        parts = [np.take(self.vertices[:, :2], t.vertices, axis=0) for t in self.textures]
        return [xy_box(p) for p in parts] + [xy_box(gv) for _, gv, _, _ in self.meshes]


class BodyPoser:
    """Poses the people of a frame on one body topology (see the module docstring); keeps
    the hem lag's state between frames (``reset`` forgets it)."""

    def __init__(self, topology: Topology, hem_lag: float) -> None:
        self.topology = topo = topology
        self.faces = topo.faces
        self._normals = VertexNormals(topo.faces, topo.num_vertices)
        # size from the torso's area: rigid enough, 10x fewer faces than the body
        self._scale_faces = np.flatnonzero(np.isin(topo.face_part, TORSO_PARTS))
        self._rest_area = surface_area(topo.vertices, topo.faces[self._scale_faces])
        self._upsampling = Upsampling.load()
        self._hem_lag = hem_lag
        self._lag = HemLag(hem_lag)

    def body_visibility(self, visibility: np.ndarray | None) -> np.ndarray:
        """(518,) low-level or (V,) visibility in [0, 1], None = visible -> (V,) float32."""
        n = self.topology.num_vertices
        if visibility is None:
            return np.ones(n, np.float32)
        vis = np.asarray(visibility, np.float32)
        if vis.shape == (n,):
            return vis
        up = self._upsampling
        if vis.shape != (int(up.low_to_mid_index.max()) + 1,):
            raise ValueError(f"visibility must be low-level (518,) or ({n},), got {vis.shape}")
        mid = up.apply(up.low_to_mid_index, up.low_to_mid_weight, vis[:, None])
        return up.apply(up.mid_to_high_index, up.mid_to_high_weight, mid)[:, 0]

    def pose(self, person: TryOnPerson) -> PosedPerson:
        """One person -> their ``PosedPerson``."""
        v = np.array(person.vertices, np.float32, copy=True)
        if v.shape != (self.topology.num_vertices, 3):
            raise ValueError(f"vertices must be ({self.topology.num_vertices}, 3), got {v.shape}")
        v[:, :2] += 0.5  # network pixel convention -> renderer's
        normals, face_normals = self._normals(v)
        # body_scale from the cross products already made: |n| is twice the face's area
        torso = np.take(face_normals, self._scale_faces, axis=0)
        area = 0.5 * float(np.sqrt(np.einsum("ij,ij->i", torso, torso)).sum())
        posed = PosedPerson(
            vertices=v,
            normals=normals,
            face_normals=face_normals,
            visibility=self.body_visibility(person.visibility),
            scale=float(np.sqrt(area / self._rest_area)),
        )
        for g in person.garments:
            if isinstance(g, TextureGarment):
                posed.textures.append(g)
                continue
            gv, gn = pose_binding(g.binding, v, self.faces, posed.scale, posed.normals)
            if person.track_id is not None and self._hem_lag > 0:
                key = (person.track_id, id(g))
                root = np.array([v[:, 0].mean(), v[:, 1].mean(), v[:, 2].mean()], np.float32)
                gv = self._lag.apply(key, gv, root, posed.scale, g.lag_weight)
            vis = (
                np.ones(len(gv), np.float32)
                if person.visibility is None
                else interpolate_at_anchors(g.binding, self.faces, posed.visibility)
            )
            posed.meshes.append((g, gv, gn, vis))
        return posed

    def pose_all(self, people: Sequence[TryOnPerson]) -> list[PosedPerson]:
        """Every person of a frame; the hem lag forgets the tracks and garments gone."""
        posed = [self.pose(p) for p in people]
        if self._hem_lag > 0:
            self._lag.keep_only(
                (p.track_id, id(g)) for p in people if p.track_id is not None for g in p.garments
            )
        return posed

    def reset(self) -> None:
        """Forget secondary-motion state (e.g. on a new video)."""
        self._lag.reset()
