"""Try-on painters: the compiled ones (``gl_paint``'s fragment shader, ``cpu_paint``'s loops)
paint what the numpy reference (``numpy_paint``) paints."""

# ruff: noqa: F811  (fixtures imported from tryon_helpers)
from __future__ import annotations

import numpy as np
import pytest
from tryon_helpers import H, W, front_view, lib, posed, topo  # noqa: F401

from meshpose_core.render import create_rasterizer
from meshpose_core.topology import Topology
from meshpose_core.tryon import GarmentLibrary, TryOnConfig, TryOnLayer, TryOnPerson


@pytest.mark.parametrize("painter", ["gl", "cpu"])
def test_shader_and_numpy_paths_agree(
    lib: GarmentLibrary, topo: Topology, posed, painter: str
) -> None:
    """The compiled painting (GL's fragment shader, or the compiled CPU loops) and the numpy
    painting give the same layer, to the 8-bit rounding and the odd edge pixel: three
    garments, two overlapping people."""
    outfit = (lib.load("striped_tshirt"), lib.load("flared_skirt"), lib.load("crossbody_bag"))
    a = front_view(posed[2], yaw=20)
    b = front_view(posed[3]) * np.float32([0.8, 0.8, 0.8]) + np.float32([40, 40, 100])
    vis = np.linspace(0.1, 1.0, 518, dtype=np.float32)
    people = [TryOnPerson(a, outfit, vis), TryOnPerson(b, outfit[::-1])]
    with create_rasterizer() as rast:
        if rast.name != "gl" and painter == "gl":
            pytest.skip("no OpenGL context here")
        out = {}
        for shader in (True, False):
            cfg = TryOnConfig(soft_edges=False, shader_paint=shader, painter=painter)
            with TryOnLayer(cfg, rast, topo, lib.atlas) as layer:
                out[shader] = [(g.rect, g.rgba.astype(int)) for g in layer.draw(W, H, people)]
                assert layer.painter_in_use == (painter if shader else None)
    assert [r for r, _ in out[True]] == [r for r, _ in out[False]]
    for (_, gl), (_, cpu) in zip(out[True], out[False], strict=True):
        diff = np.abs(gl - cpu).max(axis=-1)
        assert (gl[..., 3] > 0).sum() > 2000
        assert np.mean(diff > 3) < 0.01 and np.median(diff[gl[..., 3] > 0]) <= 1
