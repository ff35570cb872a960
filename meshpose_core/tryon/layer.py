"""The try-on layer: every person's garments drawn over a video frame, occluded correctly.

Per frame, all bodies and all mesh garments that can overlap go through **one**
rasterisation (people far apart form separate groups, each on its own small rectangle), so
the depth test settles every occlusion: an arm in front of the torso hides the shirt print
(the print is drawn only where the body's own surface is the nearest one), a body hides the
back of a skirt, one person hides another's coat. Bodies themselves are not drawn (the real
person is in the frame); they only occlude and carry texture garments.

Per garment pixel: a texture sample at the interpolated UV (the body's atlas UV for texture
garments, the garment's own for mesh garments), Lambert + ambient shading with the
interpolated normals, and an alpha that fades with the body's visibility (low where the
network says the body is occluded or out of the crop). Only the rectangle the garments
cover is rasterised and shaded, in buffers rounded up to ``roi_bucket`` pixels so that the
GL framebuffer keeps its size between frames.

The painting runs in compiled code and one RGBA image comes back per group: in GL's
fragment shader (``gl_paint``) on a hardware OpenGL, in compiled CPU loops (``cpu_paint``)
where OpenGL is software (llvmpipe) or absent, and also for the cases the shader does not
take (more than ``MAX_TEXTURES`` texture garments on one body, non-finite vertices);
``TryOnConfig.painter`` picks. The numpy path below (fragments, then per-pixel gathers and
texture sampling) is the reference they are tested against (``shader_paint=False``).

Threading: like the renderer, a ``TryOnLayer`` belongs to the thread that renders (its GL
rasterizer is created there, on the first call, unless one is given).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..render import Fragments, GLRasterizer, Mesh, Rasterizer, create_rasterizer
from ..render.normals import VertexNormals
from ..render.shading import DEFAULT_LIGHT_DIR
from ..topology import Topology, Upsampling, part_index
from .atlas import BodyAtlas
from .binding import interpolate_at_anchors, pose_binding, surface_area
from .cpu_paint import CPUGarmentPainter
from .garment import Garment, MeshGarment, TextureGarment
from .gl_paint import MAX_TEXTURES, GLGarmentPainter, PaintMesh
from .motion import HemLag
from .texture import Texture

TORSO_PARTS = (part_index("torso_back"), part_index("torso_front"))
PAINTERS: tuple[str, ...] = ("auto", "gl", "cpu")


@dataclass(frozen=True)
class TryOnConfig:
    """How garments look.

    opacity: global garment opacity; visibility_ramp: body visibility below the first value
    hides a garment, above the second shows it fully (linear in between); ambient, diffuse,
    light_dir: Lambert shading (light direction in the pixel frame, x right, y down, z away);
    soft_edges: 3x3 box filter on the garment layer (anti-aliased edges); hem_lag: secondary
    motion smoothing in [0, 1) for tracked people (0 = off); roi_bucket: render buffer sizes
    are multiples of this; renderer: ``create_rasterizer`` backend when none is given;
    shader_paint: with a GL rasterizer, paint in the fragment shader (False: the numpy path,
    e.g. to compare the two).
    """

    opacity: float = 1.0
    visibility_ramp: tuple[float, float] = (0.2, 0.6)
    ambient: float = 0.45
    diffuse: float = 0.6
    light_dir: tuple[float, float, float] = DEFAULT_LIGHT_DIR
    soft_edges: bool = True
    hem_lag: float = 0.0
    roi_bucket: int = 64
    renderer: str = "auto"
    shader_paint: bool = True
    painter: str = "auto"


@dataclass(frozen=True, eq=False)
class TryOnPerson:
    """One person of a frame and what they wear.

    vertices: (6890, 3) high-level body in image px, the network's convention (top-left
    pixel centre = 0, z = depth in px, larger = farther); garments: drawn in order (texture
    garments later in the list paint over earlier ones); visibility: (518,) low-level or
    (6890,) high-level in [0, 1], None = fully visible; track_id: enables secondary motion;
    depth_order: (a, b) maps this person's z to a depth comparable across people,
    ``a * z + b`` (the pipeline's ``ordering_depth``); (1, 0) when z already is.
    """

    vertices: np.ndarray
    garments: tuple[Garment, ...]
    visibility: np.ndarray | None = None
    track_id: int | None = None
    depth_order: tuple[float, float] = (1.0, 0.0)


def person_from_result(result: object, garments: Sequence[Garment], focal_px: float) -> TryOnPerson:
    """A ``TryOnPerson`` from a pipeline ``PersonResult`` (``vertices_high``,
    ``visibility_high``, ``track_id``, ``box``), ordered in depth like the pipeline's
    layers: ``(z + focal_px) / box height``."""
    box = np.asarray(result.box, np.float64)  # type: ignore[attr-defined]
    side = max(float(box[3] - box[1]), 1.0)
    return TryOnPerson(
        vertices=result.vertices_high,  # type: ignore[attr-defined]
        garments=tuple(garments),
        visibility=result.visibility_high,  # type: ignore[attr-defined]
        track_id=int(result.track_id),  # type: ignore[attr-defined]
        depth_order=(1.0 / side, focal_px / side),
    )


@dataclass(frozen=True, eq=False)
class GarmentLayer:
    """Garments over ``rect`` = (r0, r1, c0, c1) of a frame (one group of people).

    rgba: (r1 - r0, c1 - c0, 4) uint8 premultiplied RGBA (what the GL path reads back, and
    what cv2 blends fastest). A GUI can upload it as a texture, or ``composite`` the layers.
    """

    rect: tuple[int, int, int, int]
    rgba: np.ndarray

    @property
    def alpha(self) -> np.ndarray:
        """(h, w) float32 coverage in [0, 1]."""
        return self.rgba[..., 3].astype(np.float32) * np.float32(1.0 / 255.0)

    def composite_into(self, frame: np.ndarray, opacity: float = 1.0) -> None:
        """Blend over an (H, W, 3) uint8 RGB frame, in place, at ``opacity`` in [0, 1]."""
        r0, r1, c0, c1 = self.rect
        rgba = self.rgba if opacity >= 1.0 else cv2.convertScaleAbs(self.rgba, alpha=opacity)
        roi = frame[r0:r1, c0:c1]
        # cv2 all the way, into the frame's view: numpy's strided channel slices cost ~10x,
        # and a compiled per-pixel loop ~10x too (measured: 6.4 ms against cv2's 0.33 ms for
        # a 640 x 512 layer)
        keep = cv2.cvtColor(cv2.bitwise_not(rgba[..., 3]), cv2.COLOR_GRAY2RGB)
        base = cv2.multiply(roi, keep, scale=1.0 / 255.0)
        done = cv2.add(base, cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB), dst=roi)
        if not np.shares_memory(done, frame):  # cv2 could not write through the view
            roi[...] = done


def composite(frame: np.ndarray, layers: Sequence[GarmentLayer]) -> np.ndarray:
    """(H, W, 3) uint8 RGB frame (not modified) -> a copy with the layers over it."""
    out = np.array(frame, copy=True)
    for layer in layers:
        layer.composite_into(out)
    return out


def xy_box(points: np.ndarray) -> np.ndarray:
    """(2, 2) [min, max] of the x and y of (N, >= 2) points (NaN if any is NaN).

    Column by column: numpy reduces one strided column ~50x faster than an (N, 3) array
    along axis 0 (3 us instead of 150 us for a body), and this runs several times per person
    per frame.
    """
    x, y = points[:, 0], points[:, 1]
    return np.array([[x.min(), y.min()], [x.max(), y.max()]], np.float64)


def overlap_groups(boxes: Sequence[np.ndarray]) -> list[list[int]]:
    """Indices of (2, 2) [min, max] xy boxes grouped by (transitive) overlap, in order.

    People in different groups cannot occlude each other, so each group is rasterised on
    its own rectangle: two people at either side of the frame cost two small rectangles,
    not one frame-wide one.
    """
    group = list(range(len(boxes)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i in range(len(boxes)):
        for j in range(i):
            lo = np.maximum(boxes[i][0], boxes[j][0])
            hi = np.minimum(boxes[i][1], boxes[j][1])
            if (lo <= hi).all():
                group[root(i)] = root(j)
    out: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        out.setdefault(root(i), []).append(i)
    return list(out.values())


@dataclass(eq=False)
class _Posed:
    """One person this frame, in renderer pixels (+0.5)."""

    vertices: np.ndarray  # (V, 3) float32
    normals: np.ndarray  # (V, 3)
    face_normals: np.ndarray  # (F, 3) cross products
    visibility: np.ndarray  # (V,)
    scale: float  # pixels per rest-template metre
    textures: list[TextureGarment] = field(default_factory=list)
    meshes: list[tuple[MeshGarment, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=list
    )  # (garment, vertices, normals, visibility)

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
        """(2, 2) [min, max] screen xy of the body and all its garments (NaN-free)."""
        box = np.stack([xy_box(m) for m in (self.vertices, *(gv for _, gv, _, _ in self.meshes))])
        out = np.stack([box[:, 0].min(axis=0), box[:, 1].max(axis=0)])
        if np.isfinite(out).all():
            return out
        pts = np.concatenate([self.vertices[:, :2]] + [gv[:, :2] for _, gv, _, _ in self.meshes])
        pts = pts[np.isfinite(pts).all(axis=1)]
        return np.stack([pts.min(axis=0), pts.max(axis=0)]) if len(pts) else np.zeros((2, 2))

    def extents(self) -> list[np.ndarray]:
        """(2, 2) [min, max] screen xy of every garment (texture ones: their painted part)."""
        parts = [np.take(self.vertices[:, :2], t.vertices, axis=0) for t in self.textures]
        return [xy_box(p) for p in parts] + [xy_box(gv) for _, gv, _, _ in self.meshes]


@dataclass(frozen=True, eq=False)
class _Item:
    """A rasterised mesh that carries paint.

    uv_table (F, 8): per face u0 u1 u2 v0 v1 v2 (2 pad); vertex_table (V, 4): per vertex
    normal and visibility; painted (F,) bool faces that carry paint (None: all); drawn:
    the face indices that were rasterised when not all (face_id indexes into it). 8- and
    4-wide rows make the per-pixel gathers take numpy's fast path.
    """

    textures: tuple[Texture, ...]
    uv_table: np.ndarray
    faces: np.ndarray
    vertex_table: np.ndarray
    pixels_per_metre: float
    painted: np.ndarray | None = None
    drawn: np.ndarray | None = None


def uv_table(corner_uv: np.ndarray) -> np.ndarray:
    """(F, 3, 2) corner UVs -> (F, 8) float32 rows u0 u1 u2 v0 v1 v2 0 0."""
    table = np.zeros((len(corner_uv), 8), np.float32)
    table[:, :3] = corner_uv[..., 0]
    table[:, 3:6] = corner_uv[..., 1]
    return table


def vertex_table(normals: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """(V, 3) normals and (V,) visibility -> (V, 4) float32 rows."""
    return np.concatenate([normals, visibility[:, None]], axis=1).astype(np.float32)


class TryOnLayer:
    """Draws garments for every person of a frame (see the module docstring)."""

    def __init__(
        self,
        config: TryOnConfig | None = None,
        rasterizer: Rasterizer | None = None,
        topology: Topology | None = None,
        atlas: BodyAtlas | None = None,
    ) -> None:
        self.config = config = config or TryOnConfig()
        self.topology = topo = topology or Topology.load("high")
        self.atlas = atlas or BodyAtlas.from_topology(topo)
        self._faces = topo.faces
        self._atlas_uv = uv_table(self.atlas.corner_uv)
        self._normals = VertexNormals(topo.faces, topo.num_vertices)
        # size from the torso's area: rigid enough, 10x fewer faces than the body
        self._scale_faces = np.flatnonzero(np.isin(topo.face_part, TORSO_PARTS))
        self._rest_area = surface_area(topo.vertices, topo.faces[self._scale_faces])
        self._upsampling = Upsampling.load()
        self._rast = rasterizer
        self._owns_rast = rasterizer is None
        if config.painter not in PAINTERS:
            raise ValueError(f"unknown painter {config.painter!r}; choose one of {PAINTERS}")
        self._painter: GLGarmentPainter | None = None
        self._cpu_painter: CPUGarmentPainter | None = None
        self._last_painter: str | None = None
        self._frags: Fragments | None = None
        self._lag = HemLag(config.hem_lag)
        light = np.asarray(config.light_dir, np.float32)
        self._light = light / max(float(np.linalg.norm(light)), 1e-12)

    # -- per person ---------------------------------------------------------------------------

    def _body_visibility(self, visibility: np.ndarray | None) -> np.ndarray:
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

    def _pose(self, person: TryOnPerson) -> _Posed:
        v = np.array(person.vertices, np.float32, copy=True)
        if v.shape != (self.topology.num_vertices, 3):
            raise ValueError(f"vertices must be ({self.topology.num_vertices}, 3), got {v.shape}")
        v[:, :2] += 0.5  # network pixel convention -> renderer's
        normals, face_normals = self._normals(v)
        # body_scale from the cross products already made: |n| is twice the face's area
        torso = np.take(face_normals, self._scale_faces, axis=0)
        area = 0.5 * float(np.sqrt(np.einsum("ij,ij->i", torso, torso)).sum())
        posed = _Posed(
            vertices=v,
            normals=normals,
            face_normals=face_normals,
            visibility=self._body_visibility(person.visibility),
            scale=float(np.sqrt(area / self._rest_area)),
        )
        for g in person.garments:
            if isinstance(g, TextureGarment):
                posed.textures.append(g)
                continue
            gv, gn = pose_binding(g.binding, v, self._faces, posed.scale, posed.normals)
            if person.track_id is not None and self.config.hem_lag > 0:
                key = (person.track_id, id(g))
                root = np.array([v[:, 0].mean(), v[:, 1].mean(), v[:, 2].mean()], np.float32)
                gv = self._lag.apply(key, gv, root, posed.scale, g.lag_weight)
            vis = (
                np.ones(len(gv), np.float32)
                if person.visibility is None
                else interpolate_at_anchors(g.binding, self._faces, posed.visibility)
            )
            posed.meshes.append((g, gv, gn, vis))
        return posed

    # -- frame ----------------------------------------------------------------------------------

    def _rasterizer(self) -> Rasterizer:
        if self._rast is None:
            self._rast = create_rasterizer(self.config.renderer)
        return self._rast

    def _rect(self, posed: list[_Posed], width: int, height: int) -> tuple[int, int, int, int]:
        """(r0, r1, c0, c1): frame rectangle covering every garment (+2 px for soft edges)."""
        boxes = [b for p in posed for b in p.extents()]
        boxes = [b for b in boxes if np.isfinite(b).all()]  # a NaN mesh is not drawn anyway
        if not boxes:
            return (0, 0, 0, 0)
        lo = np.floor(np.min([b[0] for b in boxes], axis=0)).astype(int) - 2
        hi = np.ceil(np.max([b[1] for b in boxes], axis=0)).astype(int) + 2
        c0, r0 = max(lo[0], 0), max(lo[1], 0)
        c1, r1 = min(hi[0], width), min(hi[1], height)
        return (r0, max(r1, r0), c0, max(c1, c0))

    def _scene(
        self,
        people: Sequence[TryOnPerson],
        posed: list[_Posed],
        origin: tuple[int, int],
        occluders: Sequence[Mesh],
    ) -> tuple[list[Mesh], list[_Item | None]]:
        """Meshes to rasterise (bodies, garments, occluders) and what each one paints."""
        shift = np.float32([-origin[1], -origin[0]])
        meshes, items = [], []

        def add(verts: np.ndarray, faces: np.ndarray, order: tuple[float, float]) -> None:
            v = np.array(verts, np.float32, copy=True)
            v[:, :2] += shift
            v[:, 2] = v[:, 2] * order[0] + order[1]
            meshes.append((v, faces))

        for person, p in zip(people, posed, strict=True):
            front = p.front()
            add(p.vertices, self._faces[front], person.depth_order)
            if not p.textures:
                items.append(None)  # an occluder only
                continue
            textures = tuple(t.texture for t in p.textures)
            table = vertex_table(p.normals, p.visibility)
            painted = p.painted_faces()
            items.append(
                _Item(textures, self._atlas_uv, self._faces, table, p.scale, painted, front)
            )
        for person, p in zip(people, posed, strict=True):
            for g, gv, gn, vis in p.meshes:
                add(gv, g.faces, person.depth_order)
                table = vertex_table(gn, vis)
                items.append(_Item((g.texture,), uv_table(g.corner_uv), g.faces, table, p.scale))
        for verts, faces in occluders:
            v = np.array(verts, np.float32, copy=True)
            v[:, :2] += 0.5
            add(v, np.asarray(faces), (1.0, 0.0))
            items.append(None)
        return meshes, items

    def _paint(
        self, item: _Item, face: np.ndarray, bary: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Premultiplied RGB (N, 3) in 0..255 and alpha (N,) of one item's pixels at faces
        ``face`` (N,) with barycentrics ``bary`` (3, N)."""
        g = np.take(item.uv_table, face, axis=0).T  # (8, N)
        uv = np.stack([(g[0:3] * bary).sum(axis=0), (g[3:6] * bary).sum(axis=0)], axis=1)
        rgba = None
        for tex in item.textures:  # premultiplied "over", later textures on top
            s = tex.sample(uv, tex.level_for(item.pixels_per_metre))
            rgba = s if rgba is None else s + rgba * (1.0 - s[:, 3:4])
        corners = np.take(item.faces, face, axis=0).T.reshape(-1)  # corner-major (3N,)
        a = np.take(item.vertex_table, corners, axis=0).T.reshape(4, 3, -1)
        attr = (a * bary).sum(axis=1)  # (4, N): normal, visibility
        n = attr[:3]
        cos = (self._light @ n) / np.maximum(np.sqrt((n * n).sum(axis=0)), 1e-12)
        cfg = self.config
        shade = np.minimum(cfg.ambient + cfg.diffuse * np.maximum(cos, 0.0), 1.0)
        lo, hi = cfg.visibility_ramp
        fade = np.clip((attr[3] - lo) / max(hi - lo, 1e-6), 0.0, 1.0) * cfg.opacity
        alpha = rgba[:, 3] * fade
        color = rgba[:, :3] * (fade * shade * 255.0)[:, None]
        return color, alpha

    def _pose_all(self, people: Sequence[TryOnPerson]) -> list[_Posed]:
        posed = [self._pose(p) for p in people]
        if self.config.hem_lag > 0:
            self._lag.keep_only(
                (p.track_id, id(g)) for p in people if p.track_id is not None for g in p.garments
            )
        return posed

    def _buffer_size(self, rects: Sequence[tuple[int, int, int, int]]) -> tuple[int, int]:
        """(height, width) of the render buffer: the largest rectangle rounded up to
        ``roi_bucket``, one size per frame so that the GL framebuffer keeps its size."""
        bucket = self.config.roi_bucket
        bh = max(-(-(r[1] - r[0]) // bucket) * bucket for r in rects)
        bw = max(-(-(r[3] - r[2]) // bucket) * bucket for r in rects)
        return bh, bw

    def draw(
        self,
        width: int,
        height: int,
        people: Sequence[TryOnPerson],
        occluders: Sequence[Mesh] = (),
    ) -> list[GarmentLayer]:
        """The garment layers of one frame of size ``width`` x ``height``: one per group of
        overlapping people that wears something (``composite`` blends them).

        ``occluders``: extra meshes ``(vertices (V, 3) image px in the network's convention,
        faces)`` that hide garments and are not drawn (a table, a tracked hand-held object),
        with depths comparable to the people's after their ``depth_order``.
        """
        posed = self._pose_all(people)
        groups = []
        for members in overlap_groups([p.reach() for p in posed]):
            rect = self._rect([posed[i] for i in members], width, height)
            if rect[1] > rect[0] and rect[3] > rect[2]:
                groups.append((members, rect))
        if not groups:
            return []
        bh, bw = self._buffer_size([r for _, r in groups])
        painter = self._shader_painter(people, occluders)
        if painter is not None:
            layers = []
            for members, rect in groups:
                meshes = self._paint_meshes(
                    [people[i] for i in members], [posed[i] for i in members], occluders
                )
                image, _ = painter.draw(meshes, bw, bh, rect[::2])
                layers.append(self._garment_layer(image, rect))
            return layers
        if self._frags is None or not self._frags.is_buffer_for(bw, bh):
            self._frags = Fragments.allocate(bw, bh)
        return [
            self._draw_group(
                [people[i] for i in members], [posed[i] for i in members], rect, occluders
            )
            for members, rect in groups
        ]

    def draw_with_bodies(
        self, width: int, height: int, people: Sequence[TryOnPerson]
    ) -> tuple[list[GarmentLayer], Fragments, tuple[int, int, int, int]] | None:
        """``draw`` and, from the same rasterisation, the fragments of the bodies alone
        (``mesh_id`` = index in ``people``; garments do not hide them) over one rectangle
        (r0, r1, c0, c1) covering every body and garment: for layers that shade the bodies
        themselves (the pipeline's mesh, visibility and IUV layers), which then need no
        rasterisation of their own. Bodies' back faces are not drawn.

        None (nothing done) on the numpy path (``shader_paint=False``): the caller
        rasterises the bodies itself and calls ``draw``.
        """
        painter = self._shader_painter(people, ())
        if painter is None or not people:
            return None
        posed = self._pose_all(people)
        lo = np.min([p.reach()[0] for p in posed], axis=0)
        hi = np.max([p.reach()[1] for p in posed], axis=0)
        # +2 px for the soft edges; at least one pixel inside the frame, whoever is off it
        c0, r0 = (int(v) for v in np.clip(np.floor(lo) - 2, 0, (width - 1, height - 1)))
        c1, r1 = (int(v) for v in np.minimum(np.ceil(hi) + 2, (width, height)))
        rect = (r0, max(r1, r0 + 1), c0, max(c1, c0 + 1))
        bh, bw = self._buffer_size([rect])
        meshes = self._paint_meshes(people, posed, ())
        image, frags = painter.draw(meshes, bw, bh, rect[::2], bodies=len(people))
        assert frags is not None
        worn = any(p.textures or p.meshes for p in posed)
        return ([self._garment_layer(image, rect)] if worn else []), frags, rect

    def _shader_painter(
        self, people: Sequence[TryOnPerson], occluders: Sequence[Mesh]
    ) -> GLGarmentPainter | CPUGarmentPainter | None:
        """The compiled painter for this frame (GL or CPU, see ``TryOnConfig.painter``),
        None for the numpy path (``shader_paint=False``)."""
        if not self.config.shader_paint:
            return None
        rast = self._rasterizer()
        if isinstance(rast, GLRasterizer) and self._gl_paints(rast, people, occluders):
            self._last_painter = "gl"
            if self._painter is None:
                cfg = self.config
                self._painter = GLGarmentPainter(
                    rast, self._light, cfg.ambient, cfg.diffuse, cfg.visibility_ramp, cfg.opacity,
                )  # fmt: skip
            return self._painter
        self._last_painter = "cpu"
        if self._cpu_painter is None:
            cfg = self.config
            self._cpu_painter = CPUGarmentPainter(
                self._light, cfg.ambient, cfg.diffuse, cfg.visibility_ramp, cfg.opacity
            )
        return self._cpu_painter

    def _gl_paints(
        self, rast: GLRasterizer, people: Sequence[TryOnPerson], occluders: Sequence[Mesh]
    ) -> bool:
        """Whether GL's fragment shader paints this frame: hardware OpenGL or asked for,
        and a frame the shader takes."""
        choice = self.config.painter
        if choice == "cpu" or (choice == "auto" and rast.software):
            return False
        for p in people:
            if sum(isinstance(g, TextureGarment) for g in p.garments) > MAX_TEXTURES:
                return False
        meshes = [np.asarray(p.vertices) for p in people] + [np.asarray(v) for v, _ in occluders]
        return all(np.isfinite(v).all() for v in meshes)  # the rasterizer drops such faces

    @property
    def painter_in_use(self) -> str | None:
        """ "gl" or "cpu": the compiled painter of the last frame (None: none yet, or the
        numpy path)."""
        return self._last_painter

    def _paint_meshes(
        self, people: Sequence[TryOnPerson], posed: list[_Posed], occluders: Sequence[Mesh]
    ) -> list[PaintMesh]:
        """What the GL painter draws for one group: bodies first, then garments, occluders."""
        meshes = []
        for person, p in zip(people, posed, strict=True):
            textures = tuple((t.texture, t.texture.level_for(p.scale)) for t in p.textures)
            painted = tuple(t.faces for t in p.textures) or None
            meshes.append(
                PaintMesh(
                    kind=self.atlas,
                    faces=self._faces,
                    corner_uv=self.atlas.corner_uv,
                    vertices=p.vertices,
                    normals=p.normals,
                    visibility=p.visibility,
                    order=person.depth_order,
                    textures=textures,
                    painted=painted,
                    cull=True,
                )
            )
        for person, p in zip(people, posed, strict=True):
            for g, gv, gn, vis in p.meshes:
                level = g.texture.level_for(p.scale)
                textures = ((g.texture, level),)
                meshes.append(
                    PaintMesh(g, g.faces, g.corner_uv, gv, gn, vis, person.depth_order, textures)
                )
        for verts, faces in occluders:
            v = np.array(verts, np.float32, copy=True)
            v[:, :2] += 0.5
            zeros = np.zeros(len(v), np.float32)
            corner_uv = np.zeros((len(faces), 3, 2), np.float32)
            meshes.append(PaintMesh(None, np.asarray(faces), corner_uv, v, v, zeros))
        return meshes

    def _garment_layer(self, image: np.ndarray, rect: tuple[int, int, int, int]) -> GarmentLayer:
        """The painter's premultiplied RGBA8 buffer -> the layer over ``rect``."""
        r0, r1, c0, c1 = rect
        h, w = r1 - r0, c1 - c0
        if self.config.soft_edges:
            image = cv2.blur(image[: h + 1, : w + 1], (3, 3), borderType=cv2.BORDER_CONSTANT)
        return GarmentLayer(rect, image[:h, :w].copy())

    def _draw_group(
        self,
        people: Sequence[TryOnPerson],
        posed: list[_Posed],
        rect: tuple[int, int, int, int],
        occluders: Sequence[Mesh],
    ) -> GarmentLayer:
        """Rasterise and paint one group of people over its rectangle of the frame."""
        r0, _, c0, _ = rect
        meshes, items = self._scene(people, posed, (r0, c0), occluders)
        assert self._frags is not None
        bh, bw = self._frags.height, self._frags.width
        frags = self._rasterizer().rasterize(meshes, bw, bh, out=self._frags)
        ids = frags.mesh_id.reshape(-1)
        fg = np.flatnonzero(ids >= 0)
        fg_ids = ids[fg]
        fg_face = frags.face_id.reshape(-1)[fg]
        bary = frags.bary.reshape(-1, 3)
        rgba = np.zeros((bh * bw, 4), np.float32)
        for m, item in enumerate(items):
            if item is None:
                continue
            sel = np.flatnonzero(fg_ids == m)
            face = fg_face[sel] if item.drawn is None else item.drawn[fg_face[sel]]
            if item.painted is not None:
                keep = item.painted[face]
                sel, face = sel[keep], face[keep]
            pix = fg[sel]
            if len(pix):
                b = np.take(bary, pix, axis=0).T
                rgba[pix, :3], rgba[pix, 3] = self._paint(item, face, b)
        rgba[:, 3] *= 255.0
        image = np.clip(rgba + 0.5, 0, 255).astype(np.uint8).reshape(bh, bw, 4)
        return self._garment_layer(image, rect)

    def render(
        self, frame: np.ndarray, people: Sequence[TryOnPerson], occluders: Sequence[Mesh] = ()
    ) -> np.ndarray:
        """(H, W, 3) uint8 RGB frame (not modified) -> a copy with every person's garments
        (``occluders``: see ``draw``)."""
        height, width = frame.shape[:2]
        return composite(frame, self.draw(width, height, people, occluders))

    def reset(self) -> None:
        """Forget secondary-motion state (e.g. on a new video)."""
        self._lag.reset()

    def close(self) -> None:
        """Release the painters, and the rasterizer if this layer created it (from the
        rendering thread)."""
        if self._painter is not None:
            self._painter.close()
            self._painter = None
        self._cpu_painter = None
        if self._owns_rast and self._rast is not None:
            self._rast.close()
        self._rast = None

    def __enter__(self) -> TryOnLayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
