"""Try-on ``layer``: occlusion by occluders and by other people, visibility fading, groups of
people, the hem lag of tracked people, the bodies' fragments from the garment pass."""

# ruff: noqa: F811  (fixtures imported from tryon_helpers)
from __future__ import annotations

import numpy as np
import pytest
from tryon_helpers import H, W, alpha_image, box, front_view, layer, lib, topo  # noqa: F401

from meshpose_core.render import create_rasterizer
from meshpose_core.topology import Topology
from meshpose_core.tryon import GarmentLibrary, TryOnConfig, TryOnLayer, TryOnPerson


def test_arm_in_front_hides_the_print(lib: GarmentLibrary, topo: Topology, layer) -> None:
    body = front_view(topo.vertices)
    person = TryOnPerson(body, (lib.load("striped_tshirt"),))
    free = alpha_image(layer.draw(W, H, [person]))
    chest = body[np.argmin(np.abs(topo.vertices[:, 1] - 0.3) + np.abs(topo.vertices[:, 0]))]
    half = np.array([20.0, 8.0, 10.0])  # a forearm across the chest, in front of the body
    arm = box(np.array([chest[0], chest[1], body[:, 2].min() - 30]), half)
    hidden = alpha_image(layer.draw(W, H, [person], occluders=[arm]))
    x0, x1 = int(chest[0] - half[0]), int(chest[0] + half[0])
    y0, y1 = int(chest[1] - half[1]), int(chest[1] + half[1])
    under = np.zeros((H, W), bool)
    under[y0 + 1 : y1, x0 + 1 : x1] = True
    assert free[under].min() > 0.9  # the print is there without the arm
    assert hidden[under].max() == 0.0  # and nowhere under the arm
    around = np.ones((H, W), bool)
    around[y0 - 1 : y1 + 2, x0 - 1 : x1 + 2] = False
    np.testing.assert_allclose(hidden[around], free[around])  # the rest is untouched


def test_person_in_front_hides_the_skirt_behind(lib: GarmentLibrary, topo: Topology, layer) -> None:
    """Depth between people: the nearer body hides the other's skirt, not the reverse."""
    skirt = lib.load("flared_skirt")
    back = front_view(topo.vertices)
    front = back + np.array([60.0, 0.0, -200.0], np.float32)
    dressed_back = TryOnPerson(back, (skirt,))
    alone = alpha_image(layer.draw(W, H, [dressed_back]))
    both = alpha_image(layer.draw(W, H, [dressed_back, TryOnPerson(front, ())]))
    lost = (alone > 0) & (both == 0)
    assert lost.sum() > 200  # the front person covers part of the skirt
    assert not ((alone == 0) & (both > 0)).any()
    # the skirt worn by the front person stays whole in front of the other body
    dressed_front = layer.draw(W, H, [TryOnPerson(back, ()), TryOnPerson(front, (skirt,))])
    solo_front = layer.draw(W, H, [TryOnPerson(front, (skirt,))])
    np.testing.assert_array_equal(alpha_image(dressed_front) > 0, alpha_image(solo_front) > 0)


def test_visibility_fades_garments(lib: GarmentLibrary, topo: Topology, layer) -> None:
    body = front_view(topo.vertices)
    frame = np.full((H, W, 3), 90, np.uint8)
    garments = (lib.load("striped_tshirt"), lib.load("flared_skirt"))
    hidden = TryOnPerson(body, garments, visibility=np.zeros(518, np.float32))
    np.testing.assert_array_equal(layer.render(frame, [hidden]), frame)
    half = TryOnPerson(body, garments, visibility=np.full(6890, 0.4, np.float32))
    full = alpha_image(layer.draw(W, H, [TryOnPerson(body, garments)]))
    faded = alpha_image(layer.draw(W, H, [half]))
    covered = full > 0.99
    np.testing.assert_allclose(faded[covered], 0.5, atol=0.02)  # ramp 0.2 .. 0.6


def test_several_people_each_with_their_garment(lib: GarmentLibrary, topo: Topology, layer) -> None:
    """Two people apart: two groups, each rasterised on its own rectangle, each wearing only
    their own garment; a third overlapping one joins the group it overlaps."""
    left = front_view(topo.vertices) * np.float32([0.45, 0.45, 0.45])
    right = left + np.float32([W / 2, 0, 0])
    coat, bag = lib.load("loose_coat"), lib.load("crossbody_bag")
    people = [TryOnPerson(left, (coat,)), TryOnPerson(right, (bag,))]
    layers = layer.draw(W, H, people)
    assert len(layers) == 2
    assert layers[0].rect[3] <= W / 2 <= layers[1].rect[2]
    both = alpha_image(layers)
    np.testing.assert_array_equal(both, alpha_image(layer.draw(W, H, people[:1]))
                                  + alpha_image(layer.draw(W, H, people[1:])))  # fmt: skip
    middle = TryOnPerson(left + np.float32([W / 4, 0, 50]), ())
    assert len(layer.draw(W, H, [*people, middle])) == 1


def test_layer_lags_the_hem_of_a_tracked_person(lib: GarmentLibrary, topo: Topology) -> None:
    skirt = lib.load("flared_skirt")
    still, turned = front_view(topo.vertices), front_view(topo.vertices, yaw=40)
    with create_rasterizer() as rast:
        cfg = TryOnConfig(soft_edges=False, hem_lag=0.8)
        lagging = TryOnLayer(cfg, rasterizer=rast, topology=topo, atlas=lib.atlas)
        plain = TryOnLayer(TryOnConfig(soft_edges=False), rasterizer=rast, topology=topo)
        for body in (still, turned):
            lag = alpha_image(lagging.draw(W, H, [TryOnPerson(body, (skirt,), track_id=7)]))
        now = alpha_image(plain.draw(W, H, [TryOnPerson(turned, (skirt,), track_id=7)]))
        assert ((lag > 0) != (now > 0)).sum() > 20  # the hem has not caught up yet
        lagging.reset()
        again = alpha_image(lagging.draw(W, H, [TryOnPerson(turned, (skirt,), track_id=7)]))
        np.testing.assert_array_equal(again, now)


@pytest.mark.parametrize("painter", ["gl", "cpu"])
def test_bodies_fragments_from_the_garment_pass(
    lib: GarmentLibrary, topo: Topology, painter: str
) -> None:
    """``draw_with_bodies``: the bodies' fragments are the rasterizer's (garments in front
    do not hide them), for the pipeline's surface layers; GL's and the compiled CPU
    painter's."""
    body = front_view(topo.vertices)
    behind = body + np.float32([50, 10, 80])
    people = [TryOnPerson(body, (lib.load("loose_coat"),)), TryOnPerson(behind, ())]
    with create_rasterizer() as rast:
        if rast.name != "gl" and painter == "gl":
            pytest.skip("no OpenGL context here")
        with TryOnLayer(TryOnConfig(painter=painter), rast, topo, lib.atlas) as layer:
            layers, frags, (r0, r1, c0, c1) = layer.draw_with_bodies(W, H, people)
            mine = (frags.mesh_id[: r1 - r0, : c1 - c0], frags.face_id[: r1 - r0, : c1 - c0])
            meshes = []
            for v in (body, behind):
                px = v.copy()
                px[:, :2] += 0.5
                meshes.append((px, topo.faces))
            ref = rast.rasterize(meshes, W, H)
    assert len(layers) == 1 and layers[0].rect == (r0, r1, c0, c1)
    ref_id, ref_face = ref.mesh_id[r0:r1, c0:c1], ref.face_id[r0:r1, c0:c1]
    assert (ref.mesh_id >= 0).sum() == (ref_id >= 0).sum()  # the rectangle holds the bodies
    on = ref_id >= 0  # the CPU painter leaves the background's face ids unset
    assert (mine[0] == ref_id).mean() > 0.999 and (mine[1] == ref_face)[on].mean() > 0.99
    assert (mine[0] == 1).sum() > 1000  # the second body, partly behind the first
