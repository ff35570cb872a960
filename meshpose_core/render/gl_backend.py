"""OpenGL rasteriser (moderngl): headless EGL on Linux, the default standalone context elsewhere.

One draw call per mesh into the fragment attachments of ``gl_pass.IdTarget`` and a depth
buffer, each read back straight into the contiguous array it becomes:

* R32I ``mesh_id + 1`` (a uniform) and R32I ``face_id + 1`` (``gl_PrimitiveID``, the face
  index because the triangles are drawn non-indexed in face order); 0 = background;
* RGBA32F ``(b0, b1, b2, -)``: the barycentrics, from a per-corner unit vector picked by
  ``gl_VertexID % 3`` and interpolated ``noperspective``; only RGB is read back;
* R32F ``z``: the vertex depth in pixels interpolated the same way (cleared to ``+inf``);
* a 24-bit depth buffer with the depth test ``<`` (the first drawn surface wins ties), the
  pixel ``z`` range of the frame mapped onto it. No culling, blending or multisampling.

The context, framebuffer, vertex buffer and staging memory are kept and reused across calls;
the framebuffer is rebuilt only when the image size changes and the buffer only grows.

Threading: an OpenGL context belongs to the thread that created it. Create the
``GLRasterizer`` in the thread that renders (e.g. inside a worker ``QThread.run``) and call it
only from there; calls from another thread raise ``RuntimeError``.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

from .gl_pass import IdTarget, begin_pass, program
from .raster import Fragments, PreparedMesh, Rasterizer, RendererUnavailable, check_thread

_VERTEX_SHADER = """
#version 330 core
in vec3 in_pos;                 // pixel x (right), y (down), z (depth px, larger = farther)
uniform vec2 u_size;            // image width, height in pixels
uniform vec2 u_depth;           // ndc_z = (z - u_depth.x) * u_depth.y
noperspective out vec3 v_bary;
noperspective out float v_z;
void main() {
    int corner = gl_VertexID % 3;
    v_bary = vec3(corner == 0, corner == 1, corner == 2);
    v_z = in_pos.z;
    // Window y == pixel y: framebuffer row 0 is image row 0, no flip on read-back.
    gl_Position = vec4(in_pos.xy * (2.0 / u_size) - 1.0, (in_pos.z - u_depth.x) * u_depth.y, 1.0);
}
"""

_FRAGMENT_SHADER = """
#version 330 core
uniform int u_mesh;             // mesh index + 1
noperspective in vec3 v_bary;
noperspective in float v_z;
layout(location = 0) out int o_mesh;
layout(location = 1) out int o_face;
layout(location = 2) out vec4 o_bary;
layout(location = 3) out float o_z;
void main() {
    o_mesh = u_mesh;
    o_face = gl_PrimitiveID + 1;
    o_bary = vec4(v_bary, 0.0);
    o_z = v_z;
}
"""


def _create_context() -> Any:
    """A standalone OpenGL >= 3.3 context: EGL (headless) first on Linux."""
    try:
        import moderngl
    except ImportError as exc:
        raise RendererUnavailable("the GL renderer needs the 'moderngl' package") from exc
    attempts: list[dict[str, str]] = [{"backend": "egl"}, {}] if sys.platform == "linux" else [{}]
    errors = []
    for settings in attempts:
        try:
            return moderngl.create_context(standalone=True, require=330, **settings)
        except Exception as exc:  # moderngl/glcontext raise plain Exceptions of many kinds
            errors.append(f"{settings.get('backend', 'default')}: {exc}")
    raise RendererUnavailable("cannot create an OpenGL 3.3 context (" + "; ".join(errors) + ")")


# GL_RENDERER names of OpenGL implementations that run on the CPU
SOFTWARE_RENDERERS: tuple[str, ...] = (
    "llvmpipe",
    "softpipe",
    "swiftshader",
    "swrast",
    "basic render",
)


def is_software_renderer(renderer_info: str) -> bool:
    """Whether a GL_RENDERER string names a CPU implementation of OpenGL."""
    info = renderer_info.lower()
    return any(name in info for name in SOFTWARE_RENDERERS)


class GLRasterizer(Rasterizer):
    """moderngl rasteriser; see the module docstring (one thread only; ``close`` when done).

    Raises ``RendererUnavailable`` when no OpenGL 3.3 context can be created (no moderngl, no
    EGL/GL driver). ``renderer_info`` names the GL renderer (e.g. llvmpipe or a GPU).
    """

    name = "gl"

    def __init__(self) -> None:
        self._thread = threading.get_ident()
        self._ctx = ctx = _create_context()  # raises RendererUnavailable, also without moderngl
        import moderngl

        self._mgl = moderngl
        try:
            self._prog = program(ctx, _VERTEX_SHADER, _FRAGMENT_SHADER, {})
        except Exception as exc:
            ctx.release()
            raise RendererUnavailable(f"GL shader compilation failed: {exc}") from exc
        self._target: IdTarget | None = None
        self._vbo: Any = None
        self._vao: Any = None
        self._staging = np.empty(0, np.float32)
        self.renderer_info = str(ctx.info.get("GL_RENDERER", "unknown"))
        self.software = is_software_renderer(self.renderer_info)

    # -- resources ---------------------------------------------------------------------------

    def _ensure_framebuffer(self, width: int, height: int) -> None:
        if self._target is not None and self._target.size == (width, height):
            return
        self._release_framebuffer()
        self._target = IdTarget(self._ctx, width, height)

    def _release_framebuffer(self) -> None:
        if self._target is not None:
            self._target.release()
        self._target = None

    def _ensure_vertex_buffer(self, n_floats: int) -> None:
        if len(self._staging) < n_floats:
            capacity = max(n_floats, int(len(self._staging) * 1.5))
            self._staging = np.empty(capacity, np.float32)
            if self._vao is not None:
                self._vao.release()
                self._vbo.release()
            self._vbo = self._ctx.buffer(reserve=capacity * 4, dynamic=True)
            self._vao = self._ctx.vertex_array(self._prog, [(self._vbo, "3f", "in_pos")])

    @property
    def context(self) -> Any:
        """The moderngl context, for other drawing in the rendering thread (a second context
        in one thread breaks the first). Other drawing need not restore GL state: each
        ``rasterize`` sets all it uses."""
        if self._ctx is None:
            raise RuntimeError("GLRasterizer is closed")
        check_thread(self, self._thread)
        return self._ctx

    def close(self) -> None:
        """Release every GL object and the context (from the creating thread; idempotent)."""
        if self._ctx is None:
            return
        check_thread(self, self._thread)
        self._release_framebuffer()
        if self._vao is not None:
            self._vao.release()
            self._vbo.release()
        self._prog.release()
        self._ctx.release()
        self._ctx = self._vao = self._vbo = None

    # -- rendering ---------------------------------------------------------------------------

    def _upload(self, meshes: list[PreparedMesh]) -> list[tuple[int, int]]:
        """Expand every mesh to non-indexed triangles in one buffer; (first vertex, count)."""
        total = sum(len(m.faces) for m in meshes)
        self._ensure_vertex_buffer(total * 9)  # 3 corners x (x, y, z) per face
        draws, start = [], 0
        for m in meshes:
            n = len(m.faces)
            out = self._staging[start * 9 : (start + n) * 9].reshape(n, 3, 3)
            # Indices were range-checked by prepare_mesh; "clip" lets take write in place.
            np.take(m.vertices, m.faces, axis=0, out=out, mode="clip")
            if m.drawable is not None:
                out[~m.drawable] = 0.0  # zero-area triangles produce no fragments
            draws.append((start * 3, n * 3))
            start += n
        self._vbo.orphan(self._vbo.size)
        self._vbo.write(memoryview(self._staging[: total * 9]))
        return draws

    @staticmethod
    def _depth_mapping(meshes: list[PreparedMesh]) -> tuple[float, float]:
        """(centre, scale) so that the frame's z range maps into [-0.98, 0.98] NDC."""
        zmin, zmax = np.inf, -np.inf
        for m in meshes:
            if not len(m.faces):
                continue
            z = m.vertices[:, 2] if m.drawable is None else m.vertices[m.faces[m.drawable], 2]
            if z.size:
                zmin, zmax = min(zmin, float(z.min())), max(zmax, float(z.max()))
        if not np.isfinite(zmin):
            return 0.0, 1.0
        half = max((zmax - zmin) / 2.0, 1e-6 * max(1.0, abs(zmin), abs(zmax)))
        return (zmin + zmax) / 2.0, 0.98 / half

    def _rasterize(
        self, meshes: list[PreparedMesh], width: int, height: int, out: Fragments
    ) -> None:
        if self._ctx is None:
            raise RuntimeError("GLRasterizer is closed")
        check_thread(self, self._thread)
        mgl = self._mgl
        self._ensure_framebuffer(width, height)
        draws = self._upload(meshes)
        prog = self._prog
        prog["u_size"].value = (float(width), float(height))
        prog["u_depth"].value = self._depth_mapping(meshes)

        target = self._target
        assert target is not None
        target.clear()
        begin_pass(self._ctx, width, height)
        u_mesh = prog["u_mesh"]
        for mesh_index, (first, count) in enumerate(draws):
            if count:
                u_mesh.value = mesh_index + 1
                self._vao.render(mgl.TRIANGLES, vertices=count, first=first)
        target.read(out)
