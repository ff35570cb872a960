"""The optional pyrender backend: the same fragments as the other rasterizers (exact face ids,
barycentrics and depth, no anti-aliasing), the same layer pictures, one thread, a clear error
without the package. Skipped where pyrender or an offscreen OpenGL platform is missing.

Each GL test runs in a thread of its own: an OpenGL context belongs to the thread that made
it, and the test process also makes moderngl contexts on its main thread."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pytest
from test_pipeline_layers import H, W, template_person

from meshpose_core.pipeline.layers import LayerRenderer, RenderConfig, check_renderer, parse_layers
from meshpose_core.render import CpuRasterizer, RendererUnavailable, create_rasterizer
from meshpose_core.render.pyrender_backend import decode_codes, face_codes
from meshpose_core.topology import Topology

T = TypeVar("T")


def in_own_thread(fn: Callable[[], T]) -> T:
    """``fn()`` on a new thread; its result, or its exception re-raised here."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the test thread
            box["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


@pytest.fixture(scope="module", autouse=True)
def pyrender_available() -> None:
    if importlib.util.find_spec("pyrender") is None:  # not imported: the backend picks EGL
        pytest.skip("pyrender is not installed (an optional renderer)")

    def probe() -> None:
        create_rasterizer("pyrender").close()

    try:
        in_own_thread(probe)
    except RendererUnavailable as exc:
        pytest.skip(f"pyrender cannot render here: {exc}")


def two_bodies() -> list[tuple[np.ndarray, np.ndarray]]:
    """Two overlapping people (the nearer one smaller, so order is by depth, not size) and a
    third mesh with one vertex at NaN: its faces with it are not drawn."""
    faces = Topology.load("high").faces
    a = template_person(1, W / 2, H / 2, 200).vertices_high
    b = template_person(2, W / 2 + 30, H / 2 + 10, 150).vertices_high.copy()
    b[:, 2] -= 60.0  # nearer than a
    c = template_person(3, 40, 60, 80).vertices_high.copy()
    c[0] = np.nan
    return [(a, faces), (b, faces), (c, faces)]


def test_face_codes_round_trip() -> None:
    rgba = face_codes(2**24 - 1)
    assert rgba.shape == (3 * (2**24 - 1), 4) and (rgba[:, 3] == 255).all()
    picked = np.array([0, 1, 2, 255 * 3, 65536 * 3, 3 * (2**24 - 2)])
    assert decode_codes(rgba[picked][None])[0].tolist() == [1, 1, 1, 256, 65537, 2**24 - 1]


def test_fragments_equal_the_cpu_rasterizer() -> None:
    meshes = two_bodies()
    ref = CpuRasterizer().rasterize(meshes, W, H)

    def draw() -> object:
        with create_rasterizer("pyrender") as rast:
            first = rast.rasterize(meshes, W, H)
            again = rast.rasterize(meshes[:1], W, H)  # a second draw replaces the first
            return first, again

    frags, single = in_own_thread(draw)
    assert set(np.unique(frags.mesh_id)) == {-1, 0, 1, 2}
    same = (frags.mesh_id == ref.mesh_id) & (frags.face_id == ref.face_id)
    # the same pixels and faces: only edge ties may differ (GL's tie rule, not ours)
    assert same.mean() > 0.999
    covered = same & ref.mask
    assert np.abs(frags.bary - ref.bary)[covered].max() < 1e-5
    assert np.abs(frags.depth[covered] - ref.depth[covered]).max() < 1e-3
    assert (frags.depth[~frags.mask] == np.inf).all() and (frags.bary[~frags.mask] == 0).all()
    # the nearer person covers the farther where they overlap
    assert (frags.mesh_id == 1).sum() > 0.9 * (
        CpuRasterizer().rasterize(meshes[1:2], W, H).mask
    ).sum()
    assert set(np.unique(single.mesh_id)) == {-1, 0}


def test_layers_drawn_with_pyrender_equal_the_cpu_ones() -> None:
    people = [template_person(1, W / 2, H / 2, 200), template_person(2, W / 2 + 40, H / 2, 150)]
    frame = np.random.default_rng(1).integers(60, 120, (H, W, 3), dtype=np.uint8)
    layers = parse_layers("mesh:0.7,visibility:0.5,iuv:0.5")

    def draw(renderer: str) -> np.ndarray:
        r = LayerRenderer(RenderConfig(layers=layers, renderer=renderer))
        try:
            out = r.render(frame, people)
            assert r.backend == ("pyrender" if renderer == "pyrender" else "cpu")
            return out
        finally:
            r.close()

    ours = in_own_thread(lambda: draw("pyrender"))
    ref = draw("cpu")
    differ = (np.abs(ours.astype(int) - ref) > 1).any(-1)
    assert differ.mean() < 0.002  # edge ties only
    assert (ours != frame).any(-1).mean() > 0.1


def test_used_only_from_the_thread_that_made_it() -> None:
    made, done = threading.Event(), threading.Event()
    box: dict[str, object] = {}

    def owner() -> None:
        box["rast"] = create_rasterizer("pyrender")
        made.set()
        done.wait(30)
        box["rast"].close()  # type: ignore[attr-defined]

    thread = threading.Thread(target=owner)
    thread.start()
    try:
        assert made.wait(30)
        with pytest.raises(RuntimeError, match="thread"):
            box["rast"].rasterize(two_bodies()[:1], W, H)  # type: ignore[attr-defined]
    finally:
        done.set()
        thread.join()


def test_missing_pyrender_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    check_renderer("pyrender")  # installed here
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyrender" else real(name, *a)
    )
    with pytest.raises(RendererUnavailable, match="pip install pyrender"):
        check_renderer("pyrender")


def test_no_opengl_platform_is_one_clear_error() -> None:
    """A platform PyOpenGL cannot load: ``RendererUnavailable`` naming it, in a fresh process
    (PyOpenGL picks its platform once per process)."""
    code = (
        "from meshpose_core.render import RendererUnavailable, create_rasterizer\n"
        "try:\n"
        "    create_rasterizer('pyrender')\n"
        "except RendererUnavailable as exc:\n"
        "    print('unavailable:', exc)\n"
    )
    env = {**os.environ, "PYOPENGL_PLATFORM": "no_such_platform"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "unavailable: pyrender cannot" in out.stdout and "no_such_platform" in out.stdout
