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
``TryOnConfig.painter`` picks. The numpy path (``numpy_paint``: fragments, then per-pixel
gathers and texture sampling) is the reference they are tested against
(``shader_paint=False``).

This module keeps the frame's plan: people posed (``posing``), grouped by overlap
(``overlap``), each group's rectangle and buffer size, the painter; the layers it returns
are ``compositing.GarmentLayer``.

Threading: like the renderer, a ``TryOnLayer`` belongs to the thread that renders (its GL
rasterizer is created there, on the first call, unless one is given).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..render import Fragments, GLRasterizer, Mesh, Rasterizer, create_rasterizer
from ..render.shading import DEFAULT_LIGHT_DIR
from ..topology import Topology
from .atlas import BodyAtlas
from .compositing import GarmentLayer, composite
from .cpu_paint import CPUGarmentPainter
from .garment import TextureGarment
from .gl_paint import MAX_TEXTURES, GLGarmentPainter
from .numpy_paint import NumpyGarmentPainter, uv_table
from .overlap import overlap_groups
from .paint_mesh import GarmentShading, paint_meshes
from .posing import BodyPoser, PosedPerson, TryOnPerson

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
        self._poser = BodyPoser(topo, config.hem_lag)
        self._rast = rasterizer
        self._owns_rast = rasterizer is None
        if config.painter not in PAINTERS:
            raise ValueError(f"unknown painter {config.painter!r}; choose one of {PAINTERS}")
        self._painter: GLGarmentPainter | None = None
        self._cpu_painter: CPUGarmentPainter | None = None
        self._last_painter: str | None = None
        self._frags: Fragments | None = None
        light = np.asarray(config.light_dir, np.float32)
        self._shading = GarmentShading(
            light / max(float(np.linalg.norm(light)), 1e-12),
            config.ambient, config.diffuse, config.visibility_ramp, config.opacity,
        )  # fmt: skip
        self._numpy_painter = NumpyGarmentPainter(
            self._shading, self._faces, uv_table(self.atlas.corner_uv)
        )

    # -- frame ----------------------------------------------------------------------------------

    def _rasterizer(self) -> Rasterizer:
        if self._rast is None:
            self._rast = create_rasterizer(self.config.renderer)
        return self._rast

    def _rect(self, posed: list[PosedPerson], width: int, height: int) -> tuple[int, int, int, int]:
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
        posed = self._poser.pose_all(people)
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
                meshes = paint_meshes(
                    [people[i] for i in members], [posed[i] for i in members], occluders,
                    self.atlas, self._faces,
                )  # fmt: skip
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
        posed = self._poser.pose_all(people)
        lo = np.min([p.reach()[0] for p in posed], axis=0)
        hi = np.max([p.reach()[1] for p in posed], axis=0)
        # +2 px for the soft edges; at least one pixel inside the frame, whoever is off it
        c0, r0 = (int(v) for v in np.clip(np.floor(lo) - 2, 0, (width - 1, height - 1)))
        c1, r1 = (int(v) for v in np.minimum(np.ceil(hi) + 2, (width, height)))
        rect = (r0, max(r1, r0 + 1), c0, max(c1, c0 + 1))
        bh, bw = self._buffer_size([rect])
        meshes = paint_meshes(people, posed, (), self.atlas, self._faces)
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
                self._painter = GLGarmentPainter(rast, self._shading)
            return self._painter
        self._last_painter = "cpu"
        if self._cpu_painter is None:
            self._cpu_painter = CPUGarmentPainter(self._shading)
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
        posed: list[PosedPerson],
        rect: tuple[int, int, int, int],
        occluders: Sequence[Mesh],
    ) -> GarmentLayer:
        """Rasterise and paint one group of people over its rectangle of the frame (numpy)."""
        assert self._frags is not None
        image = self._numpy_painter.draw(
            self._rasterizer(), self._frags, people, posed, rect[::2], occluders
        )
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
        self._poser.reset()

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
