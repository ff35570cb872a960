"""The renderer: pixel-space meshes -> per-pixel fragments -> shaded / IUV / overlay images.

Typical use, once per video frame, in the thread that created the rasterizer::

    rast = create_rasterizer()  # GL (EGL headless) if possible, else pure numpy
    meshes = [(verts_px, faces) for each person]
    frags = rast.rasterize(meshes, width, height)  # out=previous frags to reuse memory
    layer = shade_mesh(frags, meshes, colors)
    frame = overlay(frame, layer, frags.mask, opacity=0.6)
    iuv = iuv_image(frags, face_part, corner_part_uv)  # DensePose I, U*255, V*255

See ``raster`` for the coordinate and pixel conventions shared by all backends.
"""

from __future__ import annotations

from .camera import fit_orthographic, project_pinhole, yaw_matrix
from .compose import overlay
from .cpu_backend import CpuRasterizer
from .gl_backend import GLRasterizer  # imports moderngl only when instantiated
from .normals import VertexNormals, vertex_normals
from .pyrender_backend import PyrenderRasterizer  # imports pyrender only when instantiated
from .raster import Fragments, Mesh, Rasterizer, RendererUnavailable, rasterize
from .shading import (
    interpolate_corner_attr,
    interpolate_vertex_attr,
    iuv_colormap,
    iuv_image,
    part_colors,
    shade_mesh,
    visibility_colormap,
)

BACKENDS: tuple[str, ...] = ("auto", "gl", "cpu", "pyrender")


def create_rasterizer(backend: str = "auto") -> Rasterizer:
    """Create a rasterizer.

    Args:
        backend: ``"gl"`` (moderngl; raises ``RendererUnavailable`` when no OpenGL 3.3 context
            can be created), ``"cpu"`` (pure numpy, always available, ~10x slower than GL on
            llvmpipe), ``"auto"`` (GL if available, else CPU) or ``"pyrender"`` (the optional
            pyrender package; ``RendererUnavailable`` without it or an offscreen platform).

    A GL or pyrender rasterizer must be created and used in one thread (the rendering
    thread) and closed when done (``close()`` or a ``with`` block).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if backend == "pyrender":
        return PyrenderRasterizer()
    if backend in ("auto", "gl"):
        try:
            return GLRasterizer()
        except RendererUnavailable:
            if backend == "gl":
                raise
    return CpuRasterizer()


__all__ = [
    "BACKENDS",
    "CpuRasterizer",
    "Fragments",
    "GLRasterizer",
    "Mesh",
    "PyrenderRasterizer",
    "Rasterizer",
    "RendererUnavailable",
    "VertexNormals",
    "create_rasterizer",
    "fit_orthographic",
    "interpolate_corner_attr",
    "interpolate_vertex_attr",
    "iuv_colormap",
    "iuv_image",
    "overlay",
    "part_colors",
    "project_pinhole",
    "rasterize",
    "shade_mesh",
    "vertex_normals",
    "visibility_colormap",
    "yaw_matrix",
]
