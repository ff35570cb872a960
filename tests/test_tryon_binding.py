"""Try-on ``binding``: exact at rest, similarity-equivariant, garments stay attached to posed
bodies."""

# ruff: noqa: F811  (fixtures imported from tryon_helpers)
from __future__ import annotations

import numpy as np
import pytest
from tryon_helpers import MESH_GARMENTS, lib, pose64, posed, topo  # noqa: F401

from meshpose_core.topology import Topology, part_index
from meshpose_core.tryon import GarmentLibrary
from meshpose_core.tryon.binding import body_scale, closest_surface_points, surface_area


@pytest.mark.parametrize("name", MESH_GARMENTS)
def test_binding_reproduces_rest_shape(lib: GarmentLibrary, topo: Topology, name: str) -> None:
    g = lib.load(name)
    rest = topo.vertices.astype(np.float64)
    out = pose64(g, rest, topo.faces, 1.0)
    assert np.abs(out - g.rest_vertices).max() < 1e-5


@pytest.mark.parametrize("name", MESH_GARMENTS)
def test_binding_is_similarity_equivariant(lib: GarmentLibrary, topo: Topology, name: str) -> None:
    """A rotated, scaled, shifted body (metres -> image px) carries the garment exactly."""
    g = lib.load(name)
    rng = np.random.default_rng(1)
    rot, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rot *= np.sign(np.linalg.det(rot))
    s, shift = 270.0, np.array([320.0, 240.0, 15.0])
    body = topo.vertices.astype(np.float64) @ rot.T * s + shift
    scale = body_scale(body, topo.faces, surface_area(topo.vertices, topo.faces))
    assert scale == pytest.approx(s, rel=1e-6)
    out = pose64(g, body, topo.faces, scale)
    np.testing.assert_allclose(out, g.rest_vertices @ rot.T * s + shift, atol=1e-3)


def test_coat_stays_attached_on_posed_bodies(
    lib: GarmentLibrary, topo: Topology, posed: np.ndarray
) -> None:
    """The distance of each shell vertex to the posed body equals its rest offset (scaled to
    the body's size) for nearly every vertex."""
    g = lib.load("loose_coat")
    shell = g.binding.weight[:, 1:].sum(axis=1) == 0  # single-anchor shell vertices
    rest_d = closest_surface_points(topo.vertices, topo.faces, g.rest_vertices[shell])[2]
    rest_area = surface_area(topo.vertices, topo.faces)
    for body in posed:
        scale = body_scale(body, topo.faces, rest_area)
        out = pose64(g, body, topo.faces, scale)[shell]
        d = closest_surface_points(body, topo.faces, out)[2] / scale
        err = np.abs(d - rest_d)
        assert np.median(err) < 0.002  # metres at template size
        assert np.quantile(err, 0.95) < 0.012
        assert np.isfinite(out).all()


def test_skirt_moves_with_the_hips(lib: GarmentLibrary, topo: Topology, posed: np.ndarray) -> None:
    g = lib.load("flared_skirt")
    waist = g.lag_weight == 0  # the rows held by the pelvis alone
    assert waist.sum() > 50
    rest = topo.vertices
    torso = np.isin(topo.vertex_part, [part_index("torso_back"), part_index("torso_front")])
    band = torso & (np.abs(rest[:, 1] - g.rest_vertices[waist, 1].mean()) < 0.03)
    offset = np.linalg.norm(g.rest_vertices[waist].mean(axis=0) - rest[band].mean(axis=0))
    rest_d = closest_surface_points(rest, topo.faces, g.rest_vertices[waist])[2]
    rest_area = surface_area(rest, topo.faces)
    for body in posed:
        scale = body_scale(body, topo.faces, rest_area)
        out = pose64(g, body, topo.faces, scale)
        moved = np.linalg.norm(out[waist].mean(axis=0) - body[band].mean(axis=0))
        assert abs(moved - offset * scale) < 0.02 * scale  # the waistband rides the pelvis
        d = closest_surface_points(body, topo.faces, out[waist])[2] / scale
        assert np.abs(d - rest_d).max() < 0.02
        hem = out[g.lag_weight > 0.99]
        assert hem[:, 1].max() < out[waist][:, 1].min()  # the hem hangs below the waist
