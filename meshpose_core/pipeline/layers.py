"""Drawing a frame's results onto the frame: mesh, visibility, IUV, garments, skeleton, boxes,
HUD, over the frame itself at ``RenderConfig.video_opacity`` (faded toward black: a mesh judged
on its own; the CLI's ``--video-opacity``, the app's video layer).

Each layer has its own opacity and only enabled layers cost anything. The three surface
layers share one rasterisation of every person's high-poly mesh (all people in one call, so
the depth test orders them), and all per-pixel work is limited to the rectangle the people
cover. People are ordered in depth by a weak-perspective model: a person whose box is
``side`` px tall stands at a distance proportional to ``focal / side``, and their own relative
depth z (image px) converts to that distance unit by the same ``1 / side``; shading uses the
unmodified pixel-space mesh, so normals are not distorted by that conversion.

The ``garment`` layer dresses every person (``RenderConfig.outfits``; person k in order of
appearance wears outfit k mod n) with ``meshpose_core.tryon.TryOnLayer``: garments
depth-tested against all bodies, faded by visibility, shaded, blended. With the GL
rasterizer and a surface layer on, that layer's one rasterisation also gives the surface
layers their fragments (``TryOnLayer.draw_with_bodies``): bodies are drawn once per frame,
not twice.

Where OpenGL is software (llvmpipe) or absent, compiled CPU loops do the work instead
(``RenderConfig.mesh_painter``, "auto"): ``render.cpu_raster`` rasterises the bodies' front
faces once, ``tryon.cpu_paint`` paints the garments on that pass, and every surface layer
is coloured from the fragments by ``render.surface_paint`` straight into premultiplied RGBA
(on GL's fragments too), composited by cv2.

The GL rasterizer belongs to the thread that created it: ``LayerRenderer`` creates it (and
the try-on layer, which draws with it) on the first ``render`` call, in the rendering thread,
and falls back to the numpy rasterizer where no OpenGL context can be had.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from meshpose_core.model.heads import FEATURE_STRIDE
from meshpose_core.render import (
    Fragments,
    GLRasterizer,
    Rasterizer,
    RendererUnavailable,
    create_rasterizer,
    iuv_image,
)
from meshpose_core.render.cpu_mesh import CPUMeshPainter
from meshpose_core.render.cpu_raster import FaceMesh, clear, rasterize_into, screen_boxes
from meshpose_core.render.foreground_fill import fill_to_foregrounds
from meshpose_core.render.gl_mesh import GLMeshPainter
from meshpose_core.render.normals import VertexNormals
from meshpose_core.render.shaded_mesh import MeshPainter, ShadedMesh
from meshpose_core.render.shading import DEFAULT_LIGHT_DIR
from meshpose_core.render.surface_paint import SurfacePainter
from meshpose_core.topology import Topology
from meshpose_core.tryon import (
    Garment,
    GarmentError,
    GarmentLayer,
    OutfitCycle,
    TryOnConfig,
    TryOnLayer,
    TryOnPerson,
    load_outfits,
    shared_library,
)
from meshpose_core.tryon.overlap import xy_box

from .results import DensePoseFrame, PersonResult

LAYERS: tuple[str, ...] = ("mesh", "visibility", "iuv", "garment", "keypoints", "boxes", "hud")
SURFACE_LAYERS: frozenset[str] = frozenset({"mesh", "visibility", "iuv"})
# composited over the frame in the order given, before the drawn layers (skeleton, boxes, HUD)
PAINTED_LAYERS: frozenset[str] = SURFACE_LAYERS | {"garment"}
DEFAULT_OPACITY: dict[str, float] = {
    "mesh": 0.7,
    "visibility": 0.6,
    "iuv": 0.8,
    "garment": 1.0,
    "keypoints": 1.0,
    "boxes": 1.0,
    "hud": 1.0,
}
DEFAULT_LAYERS = "mesh,keypoints,boxes,hud"
# how the iuv layer looks: apply_net's dp_contour, dp_segm (parts), dp_u, dp_v
IUV_STYLES: tuple[str, ...] = ("contour", "parts", "u", "v")
RENDERERS: tuple[str, ...] = ("moderngl", "pyrender", "cpu")
# who rasterises and paints the surface and garment layers: "auto" picks GL on a GPU and
# compiled CPU loops where OpenGL is software (llvmpipe: ~3x slower than them) or absent
MESH_PAINTERS: tuple[str, ...] = ("auto", "gl", "cpu")
ROI_BUCKET = 64  # render-buffer sizes are multiples of this (fewer GL framebuffer rebuilds)

# COCO-17 limbs (keypoint index pairs)
SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip
# Distinct, readable on video; a track keeps its colour for life.
TRACK_PALETTE = np.array(
    [
        (66, 135, 245), (245, 130, 48), (60, 180, 75), (240, 50, 230), (255, 225, 25),
        (70, 240, 240), (230, 25, 75), (170, 110, 40), (145, 30, 180), (210, 245, 60),
    ],
    dtype=np.uint8,
)  # fmt: skip


def _default_tryon() -> TryOnConfig:
    return TryOnConfig(hem_lag=0.5)  # tracked people: hems swing a little after the hips


@dataclass(frozen=True)
class RenderConfig:
    """layers: (name, opacity) in drawing order (``parse_layers``); outfits: what the
    ``garment`` layer dresses people in, each outfit a tuple of garment names or paths
    (``meshpose_core.tryon``: a shipped name, an atlas PNG, ``IMAGE@REGION``, a ``.npz``);
    person k in order of appearance wears ``outfits[k % len(outfits)]``; tryon: how
    garments look."""

    layers: tuple[tuple[str, float], ...] = tuple(
        (n, DEFAULT_OPACITY[n]) for n in DEFAULT_LAYERS.split(",")
    )
    # "moderngl" (GL; without a context, compiled CPU loops), "cpu" (no GL context: compiled
    # CPU loops paint), "pyrender" (optional package: it rasterises every surface layer)
    renderer: str = "moderngl"
    mesh_painter: str = "auto"  # MESH_PAINTERS: every painted layer's, not the mesh's alone
    keypoint_threshold: float = 0.3  # skeleton: hide keypoints scored below this
    iuv_mode: str = "contour"  # the iuv layer's look: IUV_STYLES (render.iuv_colormap)
    densepose: bool = False  # also render each frame's DensePose IUV + person index
    # the iuv layer and the DensePose output also cover the person's mask (the network's
    # foreground) where the mesh does not, up to this fraction of the person's height in
    # view from their mesh (``render.foreground_fill``); 0: the mesh's own outline
    iuv_fill_reach: float = 0.1
    focal: float = 1.0  # assumed focal length / max(W, H), only to order people in depth
    outfits: tuple[tuple[str, ...], ...] = ()
    tryon: TryOnConfig = field(default_factory=_default_tryon)
    video_opacity: float = 1.0  # the frame under the layers: 1 as read, 0 black


def faded(image: np.ndarray, opacity: float) -> np.ndarray:
    """(H, W, 3) uint8 ``image`` scaled toward black by ``opacity`` in [0, 1] (a new array; the
    same one at 1)."""
    if opacity >= 1.0:
        return image
    if opacity <= 0.0:
        return np.zeros_like(image)
    return cv2.convertScaleAbs(image, alpha=opacity)


def check_layers(layers: tuple[tuple[str, float], ...]) -> None:
    """``ValueError`` (one line) for a layer name not in ``LAYERS``."""
    for name, _ in layers:
        if name not in LAYERS:
            raise ValueError(f"unknown layer {name!r}; choose from {LAYERS}")


def check_video_opacity(opacity: float) -> None:
    """``ValueError`` (one line) for a video opacity outside [0, 1]."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"video opacity must be in [0, 1], got {opacity:g}")


def parse_layers(spec: str) -> tuple[tuple[str, float], ...]:
    """``"mesh:0.5,iuv,hud"`` -> ((name, opacity), ...); default opacities where not given.
    An empty string means no layer (no rendering at all)."""
    out = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, value = item.partition(":")
        if name not in LAYERS:
            raise ValueError(f"unknown layer {name!r}; choose from {','.join(LAYERS)}")
        try:
            opacity = float(value) if value else DEFAULT_OPACITY[name]
        except ValueError:
            raise ValueError(f"layer opacity must be a number in [0, 1]: {item!r}") from None
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f"layer opacity must be in [0, 1]: {item!r}")
        out.append((name, opacity))
    return tuple(out)


def check_renderer(name: str) -> None:
    """Fail early, with the reason, for a renderer that cannot be used here."""
    if name not in RENDERERS:
        raise RendererUnavailable(f"unknown renderer {name!r}; choose one of {RENDERERS}")
    if name == "pyrender" and importlib.util.find_spec("pyrender") is None:
        raise RendererUnavailable(
            "--renderer pyrender needs the optional 'pyrender' package: pip install "
            "pyrender (or use --renderer moderngl, the default)"
        )


def track_color(track_id: int) -> np.ndarray:
    """(3,) uint8 RGB colour of a track."""
    return TRACK_PALETTE[(track_id - 1) % len(TRACK_PALETTE)]


def depth_order(person: PersonResult, focal_px: float) -> tuple[float, float]:
    """(a, b) such that ``z * a + b`` turns the person's root-relative depth z (px of this
    person) into a depth comparable across people, for the depth test only: the distance in
    body sizes, ``(z + focal_px) / side`` with ``side`` the box height (px, at least 1;
    bigger boxes are nearer). The painters take (a, b) as it is."""
    side = max(float(person.box[3] - person.box[1]), 1.0)
    return 1.0 / side, focal_px / side


def ordering_depth(z: np.ndarray, person: PersonResult, focal_px: float) -> np.ndarray:
    """(V,) root-relative depth (px of ``person``) -> (V,) float32 ``depth_order`` depth."""
    a, b = depth_order(person, focal_px)
    return (np.asarray(z, np.float32) * a + b).astype(np.float32)


def person_from_result(
    person: PersonResult, garments: Sequence[Garment], focal_px: float
) -> TryOnPerson:
    """The try-on layer's ``TryOnPerson`` of a person: high-level mesh and visibility, track,
    and the same depth order as the surface layers (``depth_order``)."""
    return TryOnPerson(
        vertices=person.vertices_high,
        garments=tuple(garments),
        visibility=person.visibility_high,
        track_id=int(person.track_id),
        depth_order=depth_order(person, focal_px),
    )


def people_bounds(people: Sequence[PersonResult], width: int, height: int) -> tuple[int, ...]:
    """(r0, r1, c0, c1) frame rectangle covering every person's high-poly mesh (+1 px)."""
    box = np.stack([xy_box(p.vertices_high) for p in people])
    lo, hi = box[:, 0].min(axis=0), box[:, 1].max(axis=0)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):  # rare: drop the bad vertices
        xy = np.concatenate([p.vertices_high[:, :2] for p in people])
        finite = xy[np.isfinite(xy).all(axis=1)]
        if not len(finite):
            return (0, 0, 0, 0)
        lo, hi = finite.min(0), finite.max(0)
    lo = np.floor(lo).astype(int) - 1
    hi = np.ceil(hi).astype(int) + 2
    c0, r0 = max(lo[0], 0), max(lo[1], 0)
    c1, r1 = min(hi[0], width), min(hi[1], height)
    return (r0, max(r1, r0), c0, max(c1, c0))


def bucket_size(rect: tuple[int, int, int, int]) -> tuple[int, int]:
    """(height, width) of ``rect`` (r0, r1, c0, c1) rounded up to ``ROI_BUCKET`` px: a render
    buffer of that size (and its GL framebuffer) changes size rarely as people move."""
    r0, r1, c0, c1 = rect
    return (-(-(r1 - r0) // ROI_BUCKET) * ROI_BUCKET, -(-(c1 - c0) // ROI_BUCKET) * ROI_BUCKET)


def shifted_xy(vertices: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """(V, 3) vertices -> a float32 copy with x moved by ``dx`` and y by ``dy``: column by
    column, as numpy adds to one strided column ~8x faster than to an (V, 2) slice (~10 us
    against ~80 for a 6890-vertex body, per person and frame)."""
    v = np.array(vertices, np.float32)
    v[:, 0] += np.float32(dx)
    v[:, 1] += np.float32(dy)
    return v


def person_boxes(
    frags: Fragments, rect: tuple[int, int, int, int], people: Sequence[PersonResult]
) -> np.ndarray:
    """(K, 4) rows r0:r1, columns c0:c1 of ``frags`` (the frame's ``rect``) that each
    person's mesh can cover (``screen_boxes``): people far apart leave most of it empty."""
    return screen_boxes(
        [p.vertices_high + 0.5 for p in people], (rect[0], rect[2]), frags.width, frags.height
    )


def sub_fragments(frags: Fragments, r0: int, r1: int, c0: int, c1: int) -> Fragments:
    """A rectangle of ``frags`` (views, no copy)."""
    return Fragments(
        mesh_id=frags.mesh_id[r0:r1, c0:c1],
        face_id=frags.face_id[r0:r1, c0:c1],
        bary=frags.bary[r0:r1, c0:c1],
        depth=frags.depth[r0:r1, c0:c1],
    )


def draw_skeleton(
    image: np.ndarray, keypoints: np.ndarray, color: np.ndarray, threshold: float
) -> None:
    """COCO limbs and joints of one person, in place. keypoints (17, 3) x, y, score."""
    thickness = max(1, round(min(image.shape[:2]) / 240))
    # Python ints and bools once: cv2 converts numpy scalars one by one (half the time)
    ok = (keypoints[:, 2] >= threshold).tolist()
    pts = [tuple(p) for p in np.round(keypoints[:, :2]).astype(np.int32).tolist()]
    col = tuple(int(c) for c in color)
    for a, b in SKELETON:
        if ok[a] and ok[b]:
            cv2.line(image, pts[a], pts[b], col, thickness, cv2.LINE_AA)
    for point, shown in zip(pts, ok, strict=True):
        if shown:
            cv2.circle(image, point, thickness + 1, (255, 255, 255), -1, cv2.LINE_AA)


def draw_box(image: np.ndarray, person: PersonResult) -> None:
    """Box and ``#id score`` label of one person, in place into ``image`` (H, W, 3) uint8."""
    col = tuple(int(c) for c in track_color(person.track_id))
    x0, y0, x1, y1 = (round(float(v)) for v in person.box)
    cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), col, 2)
    label = f"#{person.track_id} {person.score:.2f}"
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    # the label stays inside the frame when the box does not (people at the edges)
    tx = min(max(x0, 0), max(image.shape[1] - tw - 4, 0))
    ty = min(max(y0, th + base + 2), image.shape[0])
    cv2.rectangle(image, (tx, ty - th - base - 2), (tx + tw + 4, ty), col, -1)
    cv2.putText(image, label, (tx + 2, ty - base), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)


def draw_hud(image: np.ndarray, lines: Sequence[str]) -> None:
    """Text lines top-left on a darkened panel, in place into ``image`` (H, W, 3) uint8."""
    if not lines:
        return
    scale, pad = 0.45, 4
    sizes = [cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0] for s in lines]
    step = max(h for _, h in sizes) + 6
    w = min(max(w for w, _ in sizes) + 2 * pad, image.shape[1])
    h = min(step * len(lines) + pad, image.shape[0])
    image[:h, :w] = (image[:h, :w] * 0.4).astype(np.uint8)
    for i, s in enumerate(lines):
        org = (pad, pad + step * (i + 1) - 6)
        cv2.putText(image, s, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


class LayerRenderer:
    """Renders ``FrameResult`` people onto frames; one per rendering thread, ``close()`` it.

    Garments of ``config.outfits`` are loaded here, so a bad name or file raises
    ``GarmentError`` (a ``ValueError``, one line) before any frame is drawn.
    """

    def __init__(self, config: RenderConfig | None = None) -> None:
        self.config = config = config or RenderConfig()
        check_renderer(config.renderer)
        if config.mesh_painter not in MESH_PAINTERS:
            raise ValueError(
                f"unknown mesh painter {config.mesh_painter!r}; choose one of {MESH_PAINTERS}"
            )
        check_layers(config.layers)
        if config.iuv_mode not in IUV_STYLES:
            raise ValueError(f"unknown IUV style {config.iuv_mode!r}; choose one of {IUV_STYLES}")
        check_video_opacity(config.video_opacity)
        self._topology = Topology.load("high")
        self._normals = VertexNormals(self._topology.faces, self._topology.num_vertices)
        self._rast: Rasterizer | None = None
        self._mesh_painter: MeshPainter | None = None
        self._surface: SurfacePainter | None = None
        self._frags: Fragments | None = None
        self._tryon: TryOnLayer | None = None
        self._outfits: tuple[tuple[Garment, ...], ...] = ()
        self._cycle = OutfitCycle()
        self.set_outfits(config.outfits)
        self.backend = "none"  # which rasterizer is in use, once created
        if self.needs_surface:  # compiled now, not on the first frame (no GL needed)
            self._surface_painter()

    @property
    def needs_surface(self) -> bool:
        return any(name in SURFACE_LAYERS for name, _ in self.config.layers)

    def set_outfits(self, outfits: tuple[tuple[str, ...], ...]) -> None:
        """Load and use new outfits from the next frame on (``GarmentError`` if one cannot be
        loaded; the current ones then stay). A track keeps its place in the cycle."""
        if any(name == "garment" for name, _ in self.config.layers) and not outfits:
            raise GarmentError("the garment layer needs at least one outfit (--garment NAME)")
        self._outfits = load_outfits(outfits) if outfits else ()
        if self.config.outfits != outfits:
            self.config = replace(self.config, outfits=outfits)

    def set_layers(
        self,
        layers: tuple[tuple[str, float], ...],
        video_opacity: float,
        outfits: tuple[tuple[str, ...], ...],
    ) -> None:
        """New layers, video opacity and outfits from the next ``render`` on, keeping the
        rasterizer (its GL context) and each track's outfit: an app's live controls.
        ``ValueError`` (``GarmentError`` for an outfit that cannot be loaded): nothing changes
        then."""
        check_layers(layers)
        check_video_opacity(video_opacity)
        previous = self.config
        self.config = replace(self.config, layers=layers)
        try:
            self.set_outfits(outfits)
        except GarmentError:
            self.config = previous
            raise
        self.config = replace(self.config, video_opacity=video_opacity)

    def rasterizer(self) -> Rasterizer:
        """The rasterizer this renderer draws with (created on first use, in the calling
        thread). Other drawing in the rendering thread must share it: the GL backend makes its
        context current only once, so a second GL context in the same thread breaks both."""
        return self._rasterizer()

    def _rasterizer(self) -> Rasterizer:
        """The rasterizer, and the try-on layer drawing with it: both created on first use,
        in the rendering thread (a GL context belongs to its thread)."""
        if self._rast is None:
            kind = {"cpu": "cpu", "pyrender": "pyrender"}.get(self.config.renderer, "auto")
            self._rast = create_rasterizer(kind)
            self.backend = self._rast.name
        if self._tryon is None and self._outfits:
            tryon = replace(self.config.tryon, painter=self.config.mesh_painter)
            self._tryon = TryOnLayer(tryon, self._rast, self._topology, shared_library().atlas)
        return self._rast

    def _fragments(
        self, people: Sequence[PersonResult], rect: tuple[int, int, int, int], image_size: int
    ) -> Fragments:
        """Rasterise every person's high mesh together (depth-ordered) over ``rect`` (r0, r1,
        c0, c1) of the frame only -> fragments of that rectangle.

        Reading fragments back costs per pixel, so only the people's rectangle is rendered,
        into a buffer rounded up to ``ROI_BUCKET`` px so that its size (and the GL
        framebuffer) changes rarely.
        """
        r0, r1, c0, c1 = rect
        bh, bw = bucket_size(rect)
        focal = self.config.focal * image_size
        meshes = []
        for p in people:
            # renderer samples pixel centres at +0.5
            v = shifted_xy(p.vertices_high, 0.5 - c0, 0.5 - r0)
            v[:, 2] = ordering_depth(v[:, 2], p, focal)
            meshes.append((v, self._topology.faces))
        if self._frags is None or not self._frags.is_buffer_for(bw, bh):
            self._frags = Fragments.allocate(bw, bh)
        if self._paints_on_cpu():  # front faces only, by the compiled loop
            clear(self._frags)
            rasterize_into([FaceMesh(v, f) for v, f in meshes], self._frags, (0, 0))
            frags = self._frags
        else:
            # front faces only, as the compiled loop and the GL mesh layer draw: predicted
            # depth is too rough to hide a body's back (its torso_back part showed through)
            frags = self._rasterizer().rasterize(meshes, bw, bh, out=self._frags, cull=True)
        return sub_fragments(frags, 0, r1 - r0, 0, c1 - c0)

    def densepose(self, people: Sequence[PersonResult], width: int, height: int) -> DensePoseFrame:
        """The frame's DensePose IUV and person index (``DensePoseFrame``), from the same
        rasterisation as the surface layers (depth-ordered, only the people's rectangle)."""
        iuv = np.zeros((height, width, 3), np.uint8)
        index = np.zeros((height, width), np.uint8)
        rect = people_bounds(people, width, height) if people else (0, 0, 0, 0)
        r0, r1, c0, c1 = rect
        if r1 > r0 and c1 > c0:
            frags, _ = self._iuv_fragments(
                self._fragments(people, rect, max(width, height)), rect, people
            )
            topo = self._topology
            iuv[r0:r1, c0:c1] = iuv_image(frags, topo.face_part, topo.corner_part_uv)
            index[r0:r1, c0:c1] = np.clip(frags.mesh_id + 1, 0, 255)
        return DensePoseFrame(iuv, index)

    def _garments(
        self, people: Sequence[PersonResult], width: int, height: int, with_bodies: bool
    ) -> tuple[list[GarmentLayer], tuple[Fragments, tuple[int, int, int, int]] | None]:
        """Every person dressed in their outfit -> the garment layers, and (``with_bodies``,
        GL only) the bodies' fragments and rectangle from the same rasterisation."""
        self._rasterizer()
        assert self._tryon is not None
        focal = self.config.focal * max(width, height)
        which = self._cycle.assign([p.track_id for p in people], len(self._outfits))
        dressed = [
            person_from_result(p, self._outfits[k], focal)
            for p, k in zip(people, which, strict=True)
        ]
        if with_bodies:
            shared = self._tryon.draw_with_bodies(width, height, dressed)
            if shared is not None:
                layers, frags, rect = shared
                r0, r1, c0, c1 = rect
                return layers, (sub_fragments(frags, 0, r1 - r0, 0, c1 - c0), rect)
        return self._tryon.draw(width, height, dressed), None

    def render(
        self, image: np.ndarray, people: Sequence[PersonResult], hud: Sequence[str] = ()
    ) -> np.ndarray:
        """(H, W, 3) uint8 RGB frame (not modified) -> annotated copy."""
        out = faded(image, self.config.video_opacity)
        out = np.array(out, copy=True) if out is image else out
        height, width = out.shape[:2]
        painted = [(n, o) for n, o in self.config.layers if n in PAINTED_LAYERS and o > 0]
        surface = any(name in SURFACE_LAYERS for name, _ in painted)
        garments: list[GarmentLayer] = []
        roi: tuple[Fragments, tuple[int, int, int, int]] | None = None
        if people and self._outfits and any(name == "garment" for name, _ in painted):
            garments, roi = self._garments(people, width, height, with_bodies=surface)
        mesh: GarmentLayer | None = None  # the mesh layer when GL paints it
        if surface and people and roi is None:
            rect = people_bounds(people, width, height)
            if rect[1] > rect[0] and rect[3] > rect[2]:
                if self._paints_mesh_alone(painted):
                    mesh_opacity = dict(painted)["mesh"]
                    mesh = self._painted_mesh(people, rect, max(width, height), mesh_opacity)
                else:
                    roi = self._fragments(people, rect, max(width, height)), rect
        for name, opacity in painted:
            if name == "garment":
                for layer in garments:
                    layer.composite_into(out, opacity)
            elif mesh is not None:
                mesh.composite_into(out)  # drawn at the layer's opacity
            elif roi is not None:
                frags, rect = roi
                rgba = self._surface_layer(name, frags, rect, people, opacity)
                GarmentLayer(rect, rgba).composite_into(out)
        for name, opacity in self.config.layers:
            if name in PAINTED_LAYERS or opacity <= 0:
                continue
            target = out if opacity >= 1.0 else out.copy()
            self._draw_layer(name, target, people, hud)
            if target is not out:
                cv2.addWeighted(target, opacity, out, 1.0 - opacity, 0.0, dst=out)
        return out

    def _paints_mesh_alone(self, painted: list[tuple[str, float]]) -> bool:
        """Whether the mesh is the only surface layer, without garments: then
        ``_painted_mesh`` draws it with a ``MeshPainter`` (one RGBA8 picture instead of four
        fragment buffers and per-pixel shading in numpy; measured for one 384 x 192 px
        person on two cores: ~5 ms in numpy, 1.6 ms on llvmpipe, 0.5 ms compiled on the
        CPU). The GL painter needs the GL rasterizer: asked for without one, the CPU one
        draws."""
        names = {name for name, _ in painted}
        if self.config.renderer == "pyrender":  # asked for: pyrender draws every surface
            return False
        return names & SURFACE_LAYERS == {"mesh"} and "garment" not in names

    @property
    def painter_in_use(self) -> str | None:
        """ "gl" or "cpu": the mesh painter drawing (None until the mesh layer was painted)."""
        return None if self._mesh_painter is None else self._mesh_painter.name

    def _paints_on_cpu(self) -> bool:
        """Whether compiled CPU loops rasterise and paint (``RenderConfig.mesh_painter``):
        "auto" on a software OpenGL (llvmpipe) or without one, "cpu" always; pyrender, when
        asked for, rasterises every surface itself."""
        if self.config.renderer == "pyrender":
            return False
        rast = self._rasterizer()
        choice = self.config.mesh_painter
        if not isinstance(rast, GLRasterizer):
            return True
        return choice == "cpu" or (choice == "auto" and rast.software)

    def mesh_painter(self) -> MeshPainter:
        """The mesh layer's painter (created on first use, in the rendering thread):
        ``RenderConfig.mesh_painter``, where "auto" is GL on a hardware OpenGL and the
        compiled CPU painter on a software one or without OpenGL."""
        if self._mesh_painter is None:
            rast = self._rasterizer()
            faces, light = self._topology.faces, DEFAULT_LIGHT_DIR
            if isinstance(rast, GLRasterizer) and not self._paints_on_cpu():
                self._mesh_painter = GLMeshPainter(rast, faces, light, 0.35, 0.65)
            else:
                self._mesh_painter = CPUMeshPainter(faces, light, 0.35, 0.65)
        return self._mesh_painter

    def _painted_mesh(
        self,
        people: Sequence[PersonResult],
        rect: tuple[int, int, int, int],
        image_size: int,
        opacity: float,
    ) -> GarmentLayer:
        """Every person's shaded mesh in their track colour over ``rect`` (r0, r1, c0, c1)
        at ``opacity``, drawn by the ``mesh_painter``: the Lambert shading and depth order
        of ``shade_mesh`` on the fragments, as a premultiplied layer (to composite at 1)."""
        painter = self.mesh_painter()
        focal = self.config.focal * image_size
        meshes = []
        for p in people:
            v = shifted_xy(p.vertices_high, 0.5, 0.5)  # renderer px: pixel centres at +0.5
            meshes.append(
                ShadedMesh(
                    vertices=v,
                    normals=self._normals(p.vertices_high)[0],
                    color=tuple(float(c) for c in track_color(p.track_id)),
                    order=depth_order(p, focal),
                )
            )
        r0, r1, c0, c1 = rect
        bh, bw = bucket_size(rect)
        rgba = painter.draw(meshes, bw, bh, (r0, c0), opacity)
        return GarmentLayer(rect, rgba[: r1 - r0, : c1 - c0].copy())

    def _surface_painter(self) -> SurfacePainter:
        """The surface layers' colouring loops (compiled, or loaded from numba's cache,
        when made: ~0.3 s from the cache, ~3 s the first time on a machine)."""
        if self._surface is None:
            topo = self._topology
            self._surface = SurfacePainter(
                topo.faces, topo.face_part, topo.corner_part_uv, np.asarray(DEFAULT_LIGHT_DIR),
                0.35, 0.65,
            )  # fmt: skip
        return self._surface

    def _surface_layer(
        self,
        name: str,
        frags: Fragments,
        rect: tuple[int, int, int, int],
        people: Sequence[PersonResult],
        opacity: float,
    ) -> np.ndarray:
        """(h, w, 4) uint8 premultiplied RGBA of one surface layer at ``opacity`` over the
        fragments' rectangle (compiled loops: ``render.surface_paint``)."""
        surface = self._surface_painter()
        if name == "iuv":
            frags, boxes = self._iuv_fragments(frags, rect, people)
            return surface.iuv(frags, self.config.iuv_mode, opacity, boxes)
        boxes = person_boxes(frags, rect, people)
        if name == "mesh":
            colors = np.array([track_color(p.track_id) for p in people], np.float32)
            normals = np.stack([self._normals(p.vertices_high)[0] for p in people])
            return surface.mesh(frags, normals, colors, opacity, boxes)
        vis = np.stack([p.visibility_high for p in people])  # the visibility layer
        return surface.visibility(frags, vis, opacity, boxes)

    def _iuv_fragments(
        self, frags: Fragments, rect: tuple[int, int, int, int], people: Sequence[PersonResult]
    ) -> tuple[Fragments, np.ndarray]:
        """The fragments DensePose output is drawn from over ``rect``: the meshes', filled
        into each person's foreground (``RenderConfig.iuv_fill_reach``), and the (K, 4)
        rows and columns (``person_boxes``) each person's pixels can lie in."""
        boxes = person_boxes(frags, rect, people)
        filled, reach = fill_to_foregrounds(
            frags,
            rect,
            [p.foreground for p in people],
            [p.crop_to_image for p in people],
            [p.vertices_high for p in people],
            self.config.iuv_fill_reach,
            FEATURE_STRIDE,
        )
        grow = np.ceil(reach)[:, None].astype(np.int64) * [-1, 1, -1, 1]
        limit = [frags.height, frags.height, frags.width, frags.width]
        return filled, np.clip(boxes + grow, 0, limit)

    def _draw_layer(
        self, name: str, image: np.ndarray, people: Sequence[PersonResult], hud: Sequence[str]
    ) -> None:
        if name == "keypoints":
            for p in people:
                draw_skeleton(
                    image, p.keypoints, track_color(p.track_id), self.config.keypoint_threshold
                )
        elif name == "boxes":
            for p in people:
                draw_box(image, p)
        elif name == "hud":
            draw_hud(image, hud)

    def reset(self) -> None:
        """Forget per-track state (outfit order, garment motion): a new, unrelated input."""
        self._cycle.reset()
        if self._tryon is not None:
            self._tryon.reset()

    def close(self) -> None:
        """Release the try-on layer, then the rasterizer (from the thread that rendered)."""
        if self._tryon is not None:
            self._tryon.close()
            self._tryon = None
        if self._mesh_painter is not None:
            self._mesh_painter.close()
            self._mesh_painter = None
        if self._rast is not None:
            self._rast.close()
            self._rast = None
