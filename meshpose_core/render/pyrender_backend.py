"""pyrender rasteriser: the design's original renderer, kept as an optional backend
(``--renderer pyrender``, ``pip install pyrender``) behind the same ``Rasterizer`` interface.

pyrender (0.1.45, the last release, 2021) draws glTF-style scenes through PyOpenGL. Here it
decides coverage and the depth test only: every face is drawn unlit (``FLAT``) in a colour of
its own, the 24-bit code ``index + 1`` of the face among all meshes' faces in order, under an
orthographic camera whose pixel grid is the image's, with culling off. The codes read back
give ``mesh_id`` and ``face_id``; barycentrics and depth are then computed at each pixel
centre from the face's vertices (``cpu_backend.write_faces``, as the CPU backend does), so
the fragments are exact and follow ``raster``'s conventions like the other backends'.

Two things pyrender does are undone for that:

* it anti-aliases with four samples, which averages the codes of neighbouring faces into a
  wrong one (5.3 % of IUV pixels took a wrong part index in a test with its defaults): its
  forward pass switches multisampling on unless it draws a segmentation, so the switch is
  intercepted during our draw and every sample of a pixel is that of its centre;
* ``pyrender.mesh`` uses ``np.infty``, which numpy 2 removed: that module alone gets a numpy
  that still has it.

On Linux PyOpenGL is pointed at headless EGL (``PYOPENGL_PLATFORM=egl``) unless the user chose
a platform before PyOpenGL was imported. The EGL context belongs to the thread that created
the rasteriser (as ``GLRasterizer``'s): create and use it in the rendering thread.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

import numpy as np

from .cpu_backend import write_faces
from .raster import Fragments, PreparedMesh, Rasterizer, RendererUnavailable, check_thread

CODE_BITS = 24  # RGB8: faces of all meshes of one draw, background 0


class _NumpyWithInfty(types.ModuleType):
    """numpy as ``pyrender.mesh`` expects it (``np.infty``, removed in numpy 2)."""

    infty = np.inf

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)


def _import_pyrender() -> Any:
    """pyrender, ready for offscreen use; ``RendererUnavailable`` with the reason if not."""
    if sys.platform.startswith("linux") and "OpenGL" not in sys.modules:
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    if importlib.util.find_spec("pyrender") is None:
        raise RendererUnavailable(
            "--renderer pyrender needs the optional 'pyrender' package: pip install pyrender "
            "(or use --renderer moderngl, the default)"
        )
    try:
        import pyrender
        import pyrender.mesh
        import pyrender.renderer
    except Exception as exc:  # PyOpenGL: ImportError or plain errors for a missing GL library
        platform = os.environ.get("PYOPENGL_PLATFORM", "default")
        raise RendererUnavailable(
            f"pyrender cannot load its OpenGL platform ({platform}): {exc}"
        ) from exc
    renderer_gl = ("glEnable", "glDisable")
    if not all(hasattr(pyrender.renderer, f) for f in renderer_gl) or not hasattr(
        pyrender.mesh, "np"
    ):
        raise RendererUnavailable(
            f"pyrender {getattr(pyrender, '__version__', '?')} is not the 0.1.x this backend "
            "was written for (pip install pyrender==0.1.45)"
        )
    if not hasattr(np, "infty") and not isinstance(pyrender.mesh.np, _NumpyWithInfty):
        pyrender.mesh.np = _NumpyWithInfty("numpy")
    return pyrender


@contextlib.contextmanager
def _single_sample(renderer_module: Any) -> Iterator[None]:
    """Inside the block, pyrender's forward pass switches multisampling off where it would
    switch it on (it is on by default in OpenGL, so ignoring the call is not enough)."""
    from OpenGL.GL import GL_MULTISAMPLE

    enable, disable = renderer_module.glEnable, renderer_module.glDisable

    def enable_but_multisample(cap: int) -> None:
        (disable if cap == GL_MULTISAMPLE else enable)(cap)

    renderer_module.glEnable = enable_but_multisample
    try:
        yield
    finally:
        renderer_module.glEnable = enable


def face_codes(total_faces: int) -> np.ndarray:
    """(3 * total_faces, 4) uint8 RGBA corner colours: ``index + 1`` of each face in 24 bits
    (little end in red), the same for its three corners, alpha 255."""
    code = np.repeat(np.arange(1, total_faces + 1, dtype=np.uint32), 3)
    rgba = np.empty((len(code), 4), np.uint8)
    for channel in range(3):
        rgba[:, channel] = (code >> (8 * channel)) & 0xFF
    rgba[:, 3] = 255
    return rgba


def decode_codes(rgb: np.ndarray) -> np.ndarray:
    """(H, W, >=3) uint8 colours -> (H, W) int64 face codes (0 = background)."""
    c = rgb[..., :3].astype(np.int64)
    return c[..., 0] | (c[..., 1] << 8) | (c[..., 2] << 16)


class PyrenderRasterizer(Rasterizer):
    """pyrender rasteriser; see the module docstring (one thread only; ``close`` when done).

    Raises ``RendererUnavailable`` when pyrender or an offscreen OpenGL platform is missing.
    """

    name = "pyrender"

    def __init__(self) -> None:
        self._thread = threading.get_ident()
        self._pyrender = pyrender = _import_pyrender()
        self._scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=[1.0, 1.0, 1.0])
        self._camera = self._scene.add(pyrender.OrthographicCamera(xmag=1.0, ymag=1.0))
        self._mesh_node: Any = None
        self._codes = np.empty((0, 4), np.uint8)
        try:
            self._renderer = pyrender.OffscreenRenderer(1, 1)
        except Exception as exc:  # no EGL device / context: plain errors from PyOpenGL
            hint = (
                ""
                if os.environ.get("PYOPENGL_PLATFORM")
                else " (PyOpenGL was imported before MeshPose could choose headless EGL: set "
                "PYOPENGL_PLATFORM=egl)"
            )
            raise RendererUnavailable(
                f"pyrender cannot create an offscreen context: {exc}{hint}"
            ) from exc

    def close(self) -> None:
        renderer, self._renderer = getattr(self, "_renderer", None), None
        if renderer is not None:
            renderer.delete()

    def _corner_codes(self, total_faces: int) -> np.ndarray:
        if len(self._codes) < 3 * total_faces:
            self._codes = face_codes(total_faces)
        return self._codes[: 3 * total_faces]

    def _rasterize(
        self, meshes: list[PreparedMesh], width: int, height: int, out: Fragments
    ) -> None:
        if self._renderer is None:
            raise RuntimeError("PyrenderRasterizer is closed")
        check_thread(self, self._thread)
        pyrender = self._pyrender
        total = sum(len(m.faces) for m in meshes)
        if total >= 2**CODE_BITS:
            raise ValueError(f"at most {2**CODE_BITS - 1} faces a draw, got {total}")
        corners = np.concatenate([m.vertices[m.faces].reshape(-1, 3) for m in meshes])
        for_drawing = np.concatenate(
            [np.ones(len(m.faces), bool) if m.drawable is None else m.drawable for m in meshes]
        )
        z = corners[:, 2].reshape(-1, 3)[for_drawing]
        zmin, zmax = (float(z.min()), float(z.max())) if z.size else (0.0, 0.0)
        # world: x right, y up (image rows flipped), z towards the camera; the camera one
        # pixel nearer than the nearest vertex, looking down -z over the whole image
        world = np.empty_like(corners)
        world[:, 0] = corners[:, 0]
        world[:, 1] = height - corners[:, 1]
        world[:, 2] = -corners[:, 2]
        world.reshape(-1, 3, 3)[~for_drawing] = 0.0  # zero area: no fragments
        primitive = pyrender.Primitive(
            positions=world, color_0=self._corner_codes(total), mode=pyrender.GLTF.TRIANGLES
        )
        if self._mesh_node is not None:
            self._scene.remove_node(self._mesh_node)
        self._mesh_node = self._scene.add(pyrender.Mesh([primitive]))
        camera = self._camera.camera
        camera.xmag, camera.ymag = width / 2.0, height / 2.0
        camera.znear, camera.zfar = 0.5, zmax - zmin + 1.5
        pose = np.eye(4)
        pose[:3, 3] = (width / 2.0, height / 2.0, 1.0 - zmin)
        self._scene.set_pose(self._camera, pose)

        renderer = self._renderer
        renderer.viewport_width, renderer.viewport_height = width, height
        flags = pyrender.RenderFlags
        with _single_sample(pyrender.renderer):
            rgba, _ = renderer.render(
                self._scene, flags=flags.FLAT | flags.RGBA | flags.SKIP_CULL_FACES
            )
        self._fill(meshes, decode_codes(rgba) - 1, width, out)

    @staticmethod
    def _fill(meshes: list[PreparedMesh], index: np.ndarray, width: int, out: Fragments) -> None:
        """Fragments from every pixel's face index among all meshes' faces (-1: none)."""
        out.fill_background()
        pix = np.flatnonzero(index >= 0)
        if not len(pix):
            return
        flat_index = index.reshape(-1)[pix]
        offsets = np.cumsum([0] + [len(m.faces) for m in meshes])
        mesh_of = np.searchsorted(offsets, flat_index, side="right") - 1
        face_of = flat_index - offsets[mesh_of]
        write_faces(meshes, pix, mesh_of, face_of, width, out)
