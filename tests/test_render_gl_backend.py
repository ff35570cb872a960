"""The GL rasterizer (``gl_backend``, when an EGL context exists): agrees with the numpy one,
stays in its thread, reuses its buffers; without a context, a clear error and the fallback."""

# ruff: noqa: F811  (fixtures imported from render_helpers)
from __future__ import annotations

import threading

import numpy as np
import pytest
from render_helpers import bumpy_sphere, gl_rast, quad  # noqa: F401

from meshpose_core.render import CpuRasterizer, RendererUnavailable, create_rasterizer


def test_gl_and_cpu_agree_on_closed_meshes(gl_rast):
    a = bumpy_sphere(3, 0, (90.0, 80.0), 60.0, 300.0)
    b = bumpy_sphere(3, 1, (140.0, 95.0), 45.0, 330.0)  # interpenetrates the first
    meshes = [a, b]
    g = gl_rast.rasterize(meshes, 200, 160)
    c = CpuRasterizer().rasterize(meshes, 200, 160)
    union = g.mask | c.mask
    assert union.sum() > 10000
    same = (g.mesh_id == c.mesh_id) & (g.face_id == c.face_id)
    assert same[union].mean() > 0.995
    assert (g.mesh_id[union] == 1).sum() > 2000  # both meshes visible
    both = same & g.mask
    np.testing.assert_allclose(g.bary[both], c.bary[both], atol=5e-3)
    np.testing.assert_allclose(g.depth[both], c.depth[both], atol=0.05)


def test_gl_rasterizer_refuses_other_threads(gl_rast):
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            gl_rast.rasterize([quad(0, 0, 4, 4)], 8, 8)
        except RuntimeError as exc:
            errors.append(exc)

    th = threading.Thread(target=worker)
    th.start()
    th.join()
    assert len(errors) == 1 and "thread" in str(errors[0])


def test_gl_reuses_resources_and_resizes(gl_rast):
    v, f = quad(1.5, 1.5, 5.5, 3.5)
    small = gl_rast.rasterize([(v, f)], 8, 6)
    large = gl_rast.rasterize([(v, f)], 20, 10)
    again = gl_rast.rasterize([(v, f)], 8, 6)
    assert small.mask.sum() == 8 and large.mask.sum() == 8
    np.testing.assert_array_equal(small.face_id, again.face_id)
    np.testing.assert_array_equal(large.face_id[:6, :8], small.face_id)


def test_no_gl_context_gives_renderer_unavailable_and_auto_falls_back(monkeypatch):
    moderngl = pytest.importorskip("moderngl")
    from meshpose_core.render.gl_backend import GLRasterizer

    def no_context(*args, **kwargs):
        raise Exception("no display")  # what glcontext raises when EGL/GLX fail

    monkeypatch.setattr(moderngl, "create_context", no_context)
    with pytest.raises(RendererUnavailable, match="no display"):
        GLRasterizer()
    with pytest.raises(RendererUnavailable):
        create_rasterizer("gl")
    assert isinstance(create_rasterizer("auto"), CpuRasterizer)
