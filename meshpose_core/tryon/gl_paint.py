"""Garments painted in OpenGL's fragment shader: the try-on layer's fast path.

The numpy path (``TryOnLayer`` on any rasterizer) reads four attachments back per pixel
(mesh id, face id, barycentrics, depth), then gathers UVs, normals and visibility and samples
textures in numpy: most of the layer's cost. Here the same arithmetic runs in the GL context
of the renderer's ``GLRasterizer`` and one premultiplied RGBA8 image comes back.

* **Vertex pulling.** Each mesh kind (the body, each mesh garment) has a static buffer, made
  once and cached, of its corners: (vertex index, corner UV) in face order, so UV seams cost
  nothing. Per frame only the posed vertices go up, in one float texture (two RGBA32F texels
  per vertex: x, y, z, visibility; normal) that the vertex shader reads by index.
* **Textures**: one GL texture per garment and mip level in use (the CPU path's own
  premultiplied pyramid), sampled bilinearly, so the two paths agree within a few 8-bit
  levels; llvmpipe samples a plain bilinear texture faster than a mipmapped one at a level.
* **Shader variants** per texture count, not uniform branches: llvmpipe executes both sides
  of a branch with lanes masked off, so an unused texture would still be sampled per pixel.
* **Bodies** cull their back faces in GL (a closed body's back faces never win the depth
  test). ``draw(..., bodies=n)`` also returns the fragments of the first ``n`` meshes (the
  bodies) as ``GLRasterizer`` would: one rasterisation then serves the pipeline's mesh,
  visibility and IUV layers too. The bodies are drawn first into the id attachments, the
  garments after them into the colour only (same depth buffer), so the fragments show the
  bodies under the garments.

Threading: like the rasterizer whose context it borrows, a painter belongs to the rendering
thread; ``close`` it (before the rasterizer) to release its GL objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..render import Fragments, GLRasterizer
from ..render.gl_pass import (
    LAMBERT_GLSL,
    ColourTarget,
    IdTarget,
    begin_pass,
    depth_mapping,
    program,
    set_uniforms,
)
from .paint_mesh import GarmentShading, PaintMesh
from .texture import Texture

MAX_TEXTURES = 8  # texture garments one body can carry in this path (GL 3.3 has >= 16 units)
_ROW_TEXELS = 2048  # width of the vertex and face-mask textures; two texels per vertex
# (texture count, per-face mask, body ids): one compiled program each
Variant = tuple[int, bool, bool]


def vertex_shader(ids: bool) -> str:
    """Vertex pulling from ``u_vertices``; with ``ids`` also the barycentric and depth
    outputs of the id attachments."""
    return f"""
#version 330 core
#define IDS {int(ids)}
in int in_index;                // vertex of this mesh
in vec2 in_uv;                  // the corner's texture coordinate (GL: t = 1 - v)
uniform sampler2D u_vertices;   // per vertex: (x, y, z, visibility), (normal, 0)
uniform int u_base;             // this mesh's first vertex in u_vertices
uniform vec2 u_offset;          // renderer px -> the rectangle's px
uniform vec2 u_order;           // depth for the test: z * u_order.x + u_order.y
uniform vec2 u_size;            // rectangle width, height
uniform vec2 u_depth;           // ndc_z = (depth - u_depth.x) * u_depth.y
noperspective out vec2 v_uv;
noperspective out vec3 v_normal;
noperspective out float v_vis;
flat out int v_face;            // corners are numbered in face order, drawn or not
#if IDS
noperspective out vec3 v_bary;
noperspective out float v_z;
#endif
void main() {{
    int i = 2 * (u_base + in_index);
    ivec2 at = ivec2(i % {_ROW_TEXELS}, i / {_ROW_TEXELS});
    vec4 a = texelFetch(u_vertices, at, 0);
    vec4 b = texelFetch(u_vertices, at + ivec2(1, 0), 0);
    v_uv = in_uv;
    v_normal = b.xyz;
    v_vis = a.w;
    float z = a.z * u_order.x + u_order.y;
    v_face = gl_VertexID / 3;
#if IDS
    int corner = gl_VertexID % 3;   // non-indexed corners in face order
    v_bary = vec3(corner == 0, corner == 1, corner == 2);
    v_z = z;
#endif
    gl_Position = vec4((a.xy + u_offset) * (2.0 / u_size) - 1.0, (z - u_depth.x) * u_depth.y, 1.0);
}}
"""


def fragment_shader(count: int, masked: bool, ids: bool) -> str:
    """Premultiplied RGBA of a mesh carrying ``count`` textures (0: it only occludes);
    ``masked``: a per-face bit mask says which faces each texture paints; ``ids``: also the
    mesh id, face id, barycentrics and depth outputs (``GLRasterizer``'s attachments)."""
    uniforms = "\n".join(f"uniform sampler2D u_tex{i};" for i in range(count))
    steps = "\n".join(
        (f"    if ((paints & {1 << i}u) != 0u) {{" if masked else "    {")
        + f" vec4 s = textureLod(u_tex{i}, v_uv, 0.0); rgba = s + rgba * (1.0 - s.a); }}"
        for i in range(count)
    )
    return f"""
#version 330 core
#define IDS {int(ids)}
#define PAINT {int(count > 0)}
#define MASKED {int(masked)}
noperspective in vec2 v_uv;
noperspective in vec3 v_normal;
noperspective in float v_vis;
flat in int v_face;
{uniforms}
uniform usampler2D u_paints;    // per face: bit i set = texture i paints it
uniform vec3 u_light;
uniform vec2 u_shading;         // ambient, diffuse
uniform vec2 u_ramp;            // visibility: hidden below x, fully shown above y
uniform float u_opacity;
layout(location = 0) out vec4 o_color;  // premultiplied RGBA
{LAMBERT_GLSL}#if IDS
uniform int u_mesh;             // mesh index + 1
noperspective in vec3 v_bary;
noperspective in float v_z;
layout(location = 1) out int o_mesh;
layout(location = 2) out int o_face;
layout(location = 3) out vec4 o_bary;
layout(location = 4) out float o_z;
#endif
void main() {{
#if IDS
    o_mesh = u_mesh;
    o_face = v_face + 1;
    o_bary = vec4(v_bary, 0.0);
    o_z = v_z;
#endif
    vec4 rgba = vec4(0.0);
#if PAINT
#if MASKED
    int f = v_face;
    uint paints = texelFetch(u_paints, ivec2(f % {_ROW_TEXELS}, f / {_ROW_TEXELS}), 0).r;
#endif
{steps}
    float shade = lambert(v_normal, u_light, u_shading);
    float fade = clamp((v_vis - u_ramp.x) / max(u_ramp.y - u_ramp.x, 1e-6), 0.0, 1.0) * u_opacity;
    rgba = vec4(rgba.rgb * (fade * shade), rgba.a * fade);
#endif
    o_color = rgba;
}}
"""


class _Targets:
    """The framebuffers of one size: colour + depth (``paint``), and with the id attachments
    on the same colour and depth (``ids``, made by ``with_ids``)."""

    def __init__(self, ctx: Any, width: int, height: int) -> None:
        self.size = (width, height)
        self.paint = ColourTarget(ctx, width, height)
        self.ids: IdTarget | None = None
        self._ctx = ctx

    def with_ids(self) -> IdTarget:
        if self.ids is None:
            paint = self.paint
            self.ids = IdTarget(self._ctx, *self.size, paint.depth, [paint.colour])
        return self.ids

    def release(self) -> None:
        if self.ids is not None:
            self.ids.release()
        self.paint.release()


class GLGarmentPainter:
    """Draws ``PaintMesh`` lists into premultiplied RGBA8 images (see the module docstring)."""

    def __init__(self, rasterizer: GLRasterizer, shading: GarmentShading) -> None:
        import moderngl

        self._mgl = moderngl
        self._ctx = rasterizer.context
        self._fixed = {
            "u_vertices": 0,
            "u_paints": 1,
            **{f"u_tex{i}": i + 2 for i in range(MAX_TEXTURES)},
            "u_light": tuple(float(x) for x in shading.light),
            "u_shading": (float(shading.ambient), float(shading.diffuse)),
            "u_ramp": (float(shading.ramp[0]), float(shading.ramp[1])),
            "u_opacity": float(shading.opacity),
        }
        self._programs: dict[Variant, Any] = {}
        self._buffers: dict[int, tuple[object, Any, int]] = {}  # id(kind) -> (kind, vbo, n)
        self._arrays: dict[tuple[int, Variant, Any], Any] = {}
        self._subsets: dict[tuple[Any, ...], tuple[tuple[np.ndarray, ...], Any, int]] = {}
        self._textures: dict[tuple[int, int], tuple[Texture, Any]] = {}
        self._masks: dict[tuple[int, ...], tuple[tuple[np.ndarray, ...], Any]] = {}
        self._data: Any = None  # the vertex texture
        self._staging = np.zeros((0, 8), np.float32)
        self._targets: _Targets | None = None

    # -- cached GL objects --------------------------------------------------------------------

    def _program(self, variant: Variant) -> Any:
        """The program of one variant, compiled on first use."""
        if variant not in self._programs:
            count, masked, ids = variant
            self._programs[variant] = program(
                self._ctx, vertex_shader(ids), fragment_shader(count, masked, ids), self._fixed
            )
        return self._programs[variant]

    def _corner_buffer(self, mesh: PaintMesh) -> tuple[Any, int]:
        """(buffer, corner count): the (vertex index, UV) of every corner in face order."""
        faces = np.asarray(mesh.faces)
        table = np.zeros((faces.size, 3), np.float32)
        table[:, 0] = faces.reshape(-1).astype(np.int32).view(np.float32)  # bits, not value
        uv = np.asarray(mesh.corner_uv, np.float32).reshape(-1, 2)
        table[:, 1] = uv[:, 0]
        table[:, 2] = 1.0 - uv[:, 1]  # the atlas image's top row is GL's t = 0
        return self._ctx.buffer(table.tobytes()), faces.size

    def _vertex_array(
        self, mesh: PaintMesh, variant: Variant, subset: tuple[tuple[int, ...], bool] | None
    ) -> tuple[Any, int, list[Any]]:
        """(vertex array, corner count, GL objects to release after this draw) of a mesh kind
        with one program and optionally a subset of its faces (the painted ones or the
        others): made on first use, then reused (``kind`` None: this draw only)."""
        prog = self._program(variant)
        # a program that samples no texture has no UV input: skip those bytes
        layout = ("1i 2f", "in_index", "in_uv") if "in_uv" in prog else ("1i 8x", "in_index")
        if mesh.kind is None:
            vbo, count = self._corner_buffer(mesh)
            vao = self._ctx.vertex_array(prog, [(vbo, *layout)])
            return vao, count, [vao, vbo]
        key = id(mesh.kind)
        if key not in self._buffers:
            self._buffers[key] = (mesh.kind, *self._corner_buffer(mesh))
        _, vbo, count = self._buffers[key]
        index: Any = None
        if subset is not None:
            index, count = self._subset(mesh, subset)
        array_key = (key, variant, subset)
        if array_key not in self._arrays:
            self._arrays[array_key] = self._ctx.vertex_array(
                prog, [(vbo, *layout)], index_buffer=index, index_element_size=4
            )
        return self._arrays[array_key], count, []

    def _subset(self, mesh: PaintMesh, subset: tuple[tuple[int, ...], bool]) -> tuple[Any, int]:
        """(index buffer, index count) of the corners of the faces some texture paints
        (``subset[1]``) or of the others, for one combination of texture garments."""
        assert mesh.painted is not None
        key = (id(mesh.kind), *subset)
        if key not in self._subsets:
            painted = np.logical_or.reduce([np.asarray(p, bool) for p in mesh.painted])
            faces = np.flatnonzero(painted == subset[1]).astype(np.int32)
            corners = (faces[:, None] * 3 + np.arange(3, dtype=np.int32)).reshape(-1)
            ibo = self._ctx.buffer(corners.tobytes())
            self._subsets[key] = (mesh.painted, ibo, len(corners))
        _, ibo, count = self._subsets[key]
        return ibo, count

    def _draws(self, mesh: PaintMesh, ids: bool) -> list[tuple[Variant, Any, int, list[Any]]]:
        """How to draw one mesh: (variant, vertex array, count, scratch) per draw call. With
        ``painted``, the faces a texture paints are drawn with the textures and the others
        as a plain occluder: llvmpipe then samples no texture where nothing is painted."""
        count = len(mesh.textures)
        if mesh.painted is None or not count or mesh.kind is None:
            variant = (count, mesh.painted is not None and count > 0, ids)
            return [(variant, *self._vertex_array(mesh, variant, None))]
        key = tuple(id(p) for p in mesh.painted)
        textured = (count, len(mesh.painted) > 1, ids)
        plain = (0, False, ids)
        return [
            (textured, *self._vertex_array(mesh, textured, (key, True))),
            (plain, *self._vertex_array(mesh, plain, (key, False))),
        ]

    def _texture(self, texture: Texture, level: int) -> Any:
        """One mip level of a garment texture as a plain bilinear GL texture, cached."""
        key = (id(texture), level)
        if key not in self._textures:
            img = np.ascontiguousarray(texture.levels[level])
            gl_tex = self._ctx.texture((img.shape[1], img.shape[0]), 4, img.tobytes())
            gl_tex.filter = (self._mgl.LINEAR, self._mgl.LINEAR)
            gl_tex.repeat_x = gl_tex.repeat_y = False  # clamp: the CPU path's border replicate
            self._textures[key] = (texture, gl_tex)
        return self._textures[key][1]

    def _paint_mask(self, painted: tuple[np.ndarray, ...]) -> Any:
        """The per-face bit mask texture of one combination of texture garments, cached."""
        key = tuple(id(p) for p in painted)
        if key not in self._masks:
            bits = np.zeros(len(painted[0]), np.uint8)
            for i, faces in enumerate(painted):
                bits |= np.asarray(faces, bool).astype(np.uint8) << i
            rows = -(-len(bits) // _ROW_TEXELS)
            table = np.zeros(rows * _ROW_TEXELS, np.uint8)
            table[: len(bits)] = bits
            tex = self._ctx.texture((_ROW_TEXELS, rows), 1, table.tobytes(), dtype="u1")
            tex.filter = (self._mgl.NEAREST, self._mgl.NEAREST)
            self._masks[key] = (painted, tex)
        return self._masks[key][1]

    def _upload_vertices(self, meshes: Sequence[PaintMesh]) -> list[int]:
        """Every mesh's vertices into the vertex texture; the first vertex of each."""
        bases, total = [], 0
        for m in meshes:
            bases.append(total)
            total += len(m.vertices)
        per_row = _ROW_TEXELS // 2
        rows = max(-(-total // per_row), 1)
        if len(self._staging) < rows * per_row:
            rows = max(rows, len(self._staging) // per_row * 3 // 2)  # grow by half at least
            self._staging = np.zeros((rows * per_row, 8), np.float32)
            if self._data is not None:
                self._data.release()
            self._data = self._ctx.texture((_ROW_TEXELS, rows), 4, dtype="f4")
            self._data.filter = (self._mgl.NEAREST, self._mgl.NEAREST)
        staging = self._staging
        for base, m in zip(bases, meshes, strict=True):
            n = len(m.vertices)
            staging[base : base + n, 0:3] = m.vertices
            staging[base : base + n, 3] = m.visibility
            staging[base : base + n, 4:7] = m.normals
        used = max(-(-total // per_row), 1)
        self._data.write(memoryview(staging[: used * per_row]), viewport=(0, 0, _ROW_TEXELS, used))
        return bases

    def _framebuffers(self, width: int, height: int) -> _Targets:
        if self._targets is None or self._targets.size != (width, height):
            if self._targets is not None:
                self._targets.release()
            self._targets = _Targets(self._ctx, width, height)
        return self._targets

    # -- drawing ------------------------------------------------------------------------------

    def draw(
        self,
        meshes: Sequence[PaintMesh],
        width: int,
        height: int,
        origin: tuple[int, int],
        bodies: int = 0,
    ) -> tuple[np.ndarray, Fragments | None]:
        """Paint ``meshes`` over the ``width`` x ``height`` rectangle whose top-left pixel is
        ``origin`` (row, col) of the frame.

        Returns (height, width, 4) uint8 premultiplied RGBA and, with ``bodies`` > 0, the
        fragments of the first ``bodies`` meshes alone (``mesh_id`` indexes them), else None.
        Both are reused by the next call.
        """
        mgl, ctx = self._mgl, self._ctx
        targets = self._framebuffers(width, height)
        ids = targets.with_ids() if bodies else None
        bases = self._upload_vertices(meshes)
        shared = {
            "u_size": (float(width), float(height)),
            "u_offset": (float(-origin[1]), float(-origin[0])),
            "u_depth": depth_mapping(meshes),
        }
        if ids is not None:
            ids.clear()
        else:
            targets.paint.clear()
        begin_pass(ctx, width, height)
        self._data.use(location=0)
        scratch: list[Any] = []
        for index, (base, m) in enumerate(zip(bases, meshes, strict=True)):
            if bodies and index == bodies:
                targets.paint.fbo.use()  # the garments: colour only, the same depth buffer
            values = {**shared, "u_base": base, "u_order": (float(m.order[0]), float(m.order[1]))}
            values["u_mesh"] = index + 1
            for i, (texture, level) in enumerate(m.textures):
                self._texture(texture, level).use(location=i + 2)
            if m.painted is not None and len(m.painted) > 1:
                self._paint_mask(m.painted).use(location=1)
            if m.cull:
                ctx.enable(mgl.CULL_FACE)
            else:
                ctx.disable(mgl.CULL_FACE)
            for variant, vao, count, temporary in self._draws(m, index < bodies):
                set_uniforms(self._program(variant), values)
                vao.render(mgl.TRIANGLES, vertices=count)
                scratch += temporary
        ctx.disable(mgl.CULL_FACE)  # the rasterizer sharing this context draws unculled
        frags = None if ids is None else ids.read()
        image = targets.paint.read()
        for obj in scratch:
            obj.release()
        return image, frags

    def close(self) -> None:
        """Release the GL objects (from the rendering thread, before the rasterizer)."""
        if self._targets is not None:
            self._targets.release()
        for vao in self._arrays.values():
            vao.release()
        for _, vbo, _ in (*self._buffers.values(), *self._subsets.values()):
            vbo.release()
        for _, tex in (*self._textures.values(), *self._masks.values()):
            tex.release()
        for prog in self._programs.values():
            prog.release()
        if self._data is not None:
            self._data.release()
        self._arrays, self._buffers, self._subsets = {}, {}, {}
        self._textures, self._masks = {}, {}
        self._programs, self._data, self._targets = {}, None, None
