"""A drawing pass in OpenGL, as every GL drawer of the renderer makes one: framebuffers,
programs, render state, the depth mapping and the shading function.

Three drawers borrow one moderngl context (``GLRasterizer`` owns it): the rasterizer itself
(fragments), the mesh layer's painter (``gl_mesh``) and the try-on painter
(``meshpose_core.tryon.gl_paint``; colour, and fragments of the bodies in the same pass).
They share:

* ``ColourTarget``: an RGBA8 colour buffer with a depth buffer, read back as premultiplied
  RGBA8 (the painters' picture);
* ``IdTarget``: the fragment attachments, after any colour attachments that come first and
  on a given or own depth buffer. R32I ``mesh_id + 1`` and R32I ``face_id + 1`` (0 =
  background), RGBA32F barycentrics (only RGB read), R32F ``z`` (cleared to ``+inf``);
  ``read_into`` fills a ``Fragments`` with them (ids back to -1 = background);
* ``program``: a program with its fixed uniforms set (``set_uniforms`` skips those a
  variant compiled away);
* ``begin_pass``: the render state of a pass: no blending, depth test ``<`` (the first drawn
  surface wins ties), culling off, and the body's outside clockwise (image y runs down the
  framebuffer) for drawers that enable culling per mesh;
* ``depth_mapping``: people's depths ``z * a + b`` onto the depth buffer's range, so that
  one depth test orders every person; ``LAMBERT_GLSL``: the painters' shading function.

Threading: GL objects belong to the thread of their context; release them there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from .raster import Fragments

# intensity = ambient + diffuse * max(0, n . l) clipped to 1 (``shading.shade_mesh``'s model)
LAMBERT_GLSL = """
float lambert(vec3 normal, vec3 light, vec2 shading) {
    float cos_l = dot(light, normal) / max(length(normal), 1e-12);
    return min(shading.x + shading.y * max(cos_l, 0.0), 1.0);
}
"""


class Ordered(Protocol):
    """A mesh placed in the depth test: ``vertices`` (V, 3) and ``order`` (a, b)."""

    vertices: np.ndarray
    order: tuple[float, float]


def depth_mapping(meshes: Sequence[Ordered]) -> tuple[float, float]:
    """(centre, scale) mapping the depth ``z * a + b`` of every mesh, with (a, b) its
    ``order``, into [-0.98, 0.98] NDC: one depth test orders every person."""
    lo, hi = np.inf, -np.inf
    for m in meshes:
        if len(m.vertices):
            z = m.vertices[:, 2]
            a, b = m.order
            ends = (float(z.min()) * a + b, float(z.max()) * a + b)
            lo, hi = min(lo, *ends), max(hi, *ends)
    if not np.isfinite(lo) or not np.isfinite(hi):
        return 0.0, 1.0
    half = max((hi - lo) / 2.0, 1e-6 * max(1.0, abs(lo), abs(hi)))
    return (lo + hi) / 2.0, 0.98 / half


def set_uniforms(prog: Any, values: Mapping[str, Any]) -> None:
    """Set the uniforms of ``values`` that ``prog`` has (a variant keeps only what it uses)."""
    for name, value in values.items():
        if name in prog:
            prog[name].value = value


def program(ctx: Any, vertex_shader: str, fragment_shader: str, fixed: Mapping[str, Any]) -> Any:
    """A compiled program with its ``fixed`` uniforms (those it has) set."""
    prog = ctx.program(vertex_shader=vertex_shader, fragment_shader=fragment_shader)
    set_uniforms(prog, fixed)
    return prog


def begin_pass(ctx: Any, width: int, height: int) -> None:
    """The render state of a pass over a ``width`` x ``height`` target (already bound)."""
    import moderngl

    ctx.viewport = (0, 0, width, height)
    ctx.disable(moderngl.BLEND | moderngl.CULL_FACE)
    ctx.enable(moderngl.DEPTH_TEST)
    ctx.depth_func = "<"
    ctx.front_face = "cw"  # image y runs down the framebuffer: the body's outside is cw
    ctx.cull_face = "back"


class ColourTarget:
    """A ``width`` x ``height`` RGBA8 colour buffer and a depth buffer; ``image``: the
    (height, width, 4) uint8 premultiplied RGBA ``read`` fills (reused)."""

    def __init__(self, ctx: Any, width: int, height: int) -> None:
        self.size = (width, height)
        self.colour = ctx.renderbuffer(self.size, components=4)
        self.depth = ctx.depth_renderbuffer(self.size)
        self.fbo = ctx.framebuffer(color_attachments=[self.colour], depth_attachment=self.depth)
        self.image = np.empty((height, width, 4), np.uint8)

    def clear(self) -> None:
        """Transparent black, depth at the far plane; and bind it."""
        self.fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        self.fbo.use()

    def read(self) -> np.ndarray:
        """The colour buffer into ``image``: (height, width, 4) uint8 premultiplied RGBA,
        row 0 at the top; returns it."""
        self.fbo.read_into(self.image, components=4, dtype="f1")
        return self.image

    def release(self) -> None:
        for obj in (self.fbo, self.colour, self.depth):
            obj.release()


class IdTarget:
    """The fragment attachments (see the module docstring) of a ``width`` x ``height``
    target, after the ``leading`` colour attachments (shader locations 0..), on ``depth``
    (None: its own); ``frags``: the ``Fragments`` that ``read`` fills without ``out``
    (made on first use, then reused)."""

    def __init__(
        self,
        ctx: Any,
        width: int,
        height: int,
        depth: Any = None,
        leading: Sequence[Any] = (),
    ) -> None:
        size = (width, height)
        self.size = size
        self.buffers = [
            ctx.renderbuffer(size, components=1, dtype="i4"),  # mesh id + 1
            ctx.renderbuffer(size, components=1, dtype="i4"),  # face id + 1
            ctx.renderbuffer(size, components=4, dtype="f4"),  # barycentrics
            ctx.renderbuffer(size, components=1, dtype="f4"),  # depth value z
        ]
        self._own_depth = depth is None
        self.depth = ctx.depth_renderbuffer(size) if depth is None else depth
        self.fbo = ctx.framebuffer(
            color_attachments=[*leading, *self.buffers], depth_attachment=self.depth
        )
        self.z_only = ctx.framebuffer(color_attachments=[self.buffers[3]])
        self._first = len(leading)
        self.frags: Fragments | None = None

    def clear(self) -> None:
        """Background everywhere (and any leading colour transparent black), depth at the far
        plane; and bind it."""
        # moderngl clears with a float colour; all-zero bits read 0 = background in the
        # integer attachments. Then the z attachment alone gets +inf.
        self.fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        self.z_only.clear(float("inf"))
        self.fbo.use()

    def read(self, out: Fragments | None = None) -> Fragments:
        """The attachments into ``out`` (default ``frags``) of the same size; returns it."""
        if out is None:
            if self.frags is None:
                self.frags = Fragments.allocate(*self.size)
            out = self.frags
        first, fbo = self._first, self.fbo
        fbo.read_into(out.mesh_id, components=1, attachment=first, dtype="i4")
        fbo.read_into(out.face_id, components=1, attachment=first + 1, dtype="i4")
        fbo.read_into(out.bary, components=3, attachment=first + 2, dtype="f4")
        fbo.read_into(out.depth, components=1, attachment=first + 3, dtype="f4")
        np.subtract(out.mesh_id, 1, out=out.mesh_id)  # stored +1 so that 0 = background
        np.subtract(out.face_id, 1, out=out.face_id)
        return out

    def release(self) -> None:
        for obj in (self.fbo, self.z_only, *self.buffers):
            obj.release()
        if self._own_depth:
            self.depth.release()
