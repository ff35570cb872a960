"""Plain-colour, Lambert-shaded meshes of one closed topology drawn by OpenGL: the mesh
layer's painter on a GPU (``shaded_mesh.MeshPainter``; ``cpu_mesh`` is the one for OpenGL
on the CPU).

On llvmpipe (OpenGL on the CPU) the cost of a mesh is per triangle, ~0.12 µs each on two
cores whatever its size or shader, so this draws as few as the picture needs:

* **indexed**, from one static index buffer: each vertex is shaded once, not once per corner;
* **back faces culled**: the body is closed and consistently oriented (watertight, genus 0),
  so along any pixel's ray the surface is entered as often as it is left and every pixel it
  covers is covered by a front face. Culling removes only the back faces: those a front face
  hides anyway, and those that fold in front of one where a predicted mesh folds over, where
  the nearest front face (the outside of the body) shows instead of the inside of the fold.
  Measured on a 384 x 192 px person: 1.7 -> 1.2 ms a draw.

Per frame only the vertices and normals go up (one buffer per person, reused). Returns the
premultiplied RGBA8 picture of a rectangle of the frame, like the try-on painter
(``meshpose_core.tryon.gl_paint``): both make their pass with ``gl_pass`` (framebuffers,
render state, depth mapping, the shading function ``LAMBERT_GLSL``).

Threading: it borrows the context of a ``GLRasterizer`` and belongs to the rendering thread;
``close`` it before the rasterizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .gl_backend import GLRasterizer
from .gl_pass import LAMBERT_GLSL, ColourTarget, begin_pass, depth_mapping, program
from .shaded_mesh import ShadedMesh, check_vertex_count, unit_light

_VERTEX_SHADER = """
#version 330 core
in vec3 in_pos;                 // renderer px x, y (pixel centres at +0.5); z relative depth
in vec3 in_normal;
uniform vec2 u_offset;          // renderer px -> the rectangle's px
uniform vec2 u_size;            // rectangle width, height
uniform vec2 u_order;           // depth for the test: z * u_order.x + u_order.y
uniform vec2 u_depth;           // ndc_z = (depth - u_depth.x) * u_depth.y
noperspective out vec3 v_normal;
void main() {
    v_normal = in_normal;
    float z = (in_pos.z * u_order.x + u_order.y - u_depth.x) * u_depth.y;
    gl_Position = vec4((in_pos.xy + u_offset) * (2.0 / u_size) - 1.0, z, 1.0);
}
"""

_FRAGMENT_SHADER = (
    """
#version 330 core
noperspective in vec3 v_normal;
uniform vec3 u_light;
uniform vec2 u_shading;         // ambient, diffuse
uniform vec3 u_color;           // RGB in [0, 1]
uniform float u_opacity;
out vec4 o_color;               // premultiplied RGBA
"""
    + LAMBERT_GLSL
    + """
void main() {
    o_color = vec4(u_color * (lambert(v_normal, u_light, u_shading) * u_opacity), u_opacity);
}
"""
)


class GLMeshPainter:
    """Draws ``ShadedMesh`` lists of one topology (``faces``, closed and consistently
    oriented, outside clockwise in image coordinates) into premultiplied RGBA8 images."""

    name = "gl"

    def __init__(
        self,
        rasterizer: GLRasterizer,
        faces: np.ndarray,
        light: Sequence[float],
        ambient: float,
        diffuse: float,
    ) -> None:
        import moderngl

        self._mgl = moderngl
        self._ctx = ctx = rasterizer.context
        faces = np.asarray(faces)
        self._num_vertices = int(faces.max()) + 1
        fixed = {
            "u_light": tuple(float(x) for x in unit_light(light)),
            "u_shading": (float(ambient), float(diffuse)),
        }
        self._prog = program(ctx, _VERTEX_SHADER, _FRAGMENT_SHADER, fixed)
        self._indices = ctx.buffer(np.ascontiguousarray(faces, np.int32).tobytes())
        self._slots: list[tuple[Any, Any]] = []  # per person: (vertex buffer, vertex array)
        self._staging = np.zeros((self._num_vertices, 6), np.float32)
        self._target: ColourTarget | None = None

    def _slot(self, index: int) -> tuple[Any, Any]:
        while len(self._slots) <= index:
            vbo = self._ctx.buffer(reserve=self._staging.nbytes, dynamic=True)
            vao = self._ctx.vertex_array(
                self._prog,
                [(vbo, "3f 3f", "in_pos", "in_normal")],
                index_buffer=self._indices,
                index_element_size=4,
            )
            self._slots.append((vbo, vao))
        return self._slots[index]

    def _framebuffer(self, width: int, height: int) -> ColourTarget:
        if self._target is None or self._target.size != (width, height):
            self._release_targets()
            self._target = ColourTarget(self._ctx, width, height)
        return self._target

    def draw(
        self,
        meshes: Sequence[ShadedMesh],
        width: int,
        height: int,
        origin: tuple[int, int],
        opacity: float = 1.0,
    ) -> np.ndarray:
        """``shaded_mesh.MeshPainter.draw``: -> (height, width, 4) uint8 premultiplied RGBA."""
        check_vertex_count(meshes, self._num_vertices)
        mgl, ctx, prog = self._mgl, self._ctx, self._prog
        target = self._framebuffer(width, height)
        target.clear()
        begin_pass(ctx, width, height)
        ctx.enable(mgl.CULL_FACE)
        prog["u_size"].value = (float(width), float(height))
        prog["u_offset"].value = (float(-origin[1]), float(-origin[0]))
        prog["u_depth"].value = depth_mapping(meshes)
        prog["u_opacity"].value = float(opacity)
        staging = self._staging
        for index, m in enumerate(meshes):
            vbo, vao = self._slot(index)
            staging[:, :3] = m.vertices
            staging[:, 3:] = m.normals
            vbo.write(staging)
            prog["u_order"].value = (float(m.order[0]), float(m.order[1]))
            prog["u_color"].value = tuple(float(c) / 255.0 for c in m.color)
            vao.render(mgl.TRIANGLES)
        ctx.disable(mgl.CULL_FACE)  # other drawing sharing this context draws unculled
        return target.read()

    def _release_targets(self) -> None:
        if self._target is not None:
            self._target.release()
        self._target = None

    def close(self) -> None:
        """Release the GL objects (from the rendering thread, before the rasterizer)."""
        self._release_targets()
        for vbo, vao in self._slots:
            vao.release()
            vbo.release()
        self._slots = []
        if self._indices is not None:
            self._indices.release()
            self._prog.release()
            self._indices = None
