"""Try-on: binding exactness and attachment, occlusion, garment errors, region placement, the
GL shader path against the numpy one, outfits."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy import ndimage

from meshpose_core.render import create_rasterizer, fit_orthographic, vertex_normals
from meshpose_core.render.normals import VertexNormals
from meshpose_core.topology import Topology, part_index
from meshpose_core.tryon import (
    GarmentError,
    GarmentLibrary,
    MeshGarment,
    OutfitCycle,
    TextureGarment,
    TryOnConfig,
    TryOnLayer,
    TryOnPerson,
    UnknownGarment,
    list_garments,
    load_garment,
    parse_outfit,
    pose_binding,
)
from meshpose_core.tryon.atlas import BodyAtlas, seam_faces
from meshpose_core.tryon.binding import body_scale, closest_surface_points, surface_area
from meshpose_core.tryon.motion import HemLag
from meshpose_core.tryon.regions import REGIONS, region_faces

FIXTURES = Path(__file__).parent / "fixtures" / "posed_bodies.npz"
MESH_GARMENTS = ("flared_skirt", "loose_coat", "crossbody_bag")
W, H = 240, 360


@pytest.fixture(scope="module")
def topo() -> Topology:
    return Topology.load("high")


@pytest.fixture(scope="module")
def lib() -> GarmentLibrary:
    return GarmentLibrary()


@pytest.fixture(scope="module")
def posed() -> np.ndarray:
    return np.load(FIXTURES)["high"].astype(np.float64)


@pytest.fixture(scope="module")
def layer(lib: GarmentLibrary):
    with create_rasterizer() as rast:
        cfg = TryOnConfig(soft_edges=False)
        yield TryOnLayer(cfg, rasterizer=rast, topology=lib.topology, atlas=lib.atlas)


def front_view(vertices_m: np.ndarray, yaw: float = 0.0) -> np.ndarray:
    """A body in image px, network pixel convention (centres at integers)."""
    px = fit_orthographic(vertices_m, W, H, margin=0.05, yaw_deg=yaw)
    px[:, :2] -= 0.5
    return px


def alpha_image(layers) -> np.ndarray:
    """(H, W) garment alpha of a frame from its layers."""
    out = np.zeros((H, W), np.float32)
    for layer in layers:
        r0, r1, c0, c1 = layer.rect
        out[r0:r1, c0:c1] = layer.alpha
    return out


def pose64(g: MeshGarment, body: np.ndarray, faces: np.ndarray, scale: float) -> np.ndarray:
    normals = vertex_normals(body, faces).astype(np.float64)
    return pose_binding(g.binding, body, faces, scale, normals)[0]


# -- registry and errors ---------------------------------------------------------------------


def test_shipped_garments_load(lib: GarmentLibrary) -> None:
    names = list_garments()
    assert set(MESH_GARMENTS) <= set(names)
    assert {"striped_tshirt", "patterned_leggings", "chest_logo"} <= set(names)
    assert "uv_template" not in names
    for name in names:
        g = lib.load(name)
        assert isinstance(g, (MeshGarment, TextureGarment)) and g.name == name
    assert lib.load("flared_skirt") is lib.load("flared_skirt")  # loaded once


def test_unknown_name_is_a_clear_one_line_error() -> None:
    with pytest.raises(GarmentError) as err:
        load_garment("ball_gown")
    msg = str(err.value)
    assert "ball_gown" in msg and "flared_skirt" in msg and "\n" not in msg


def test_unreadable_or_invalid_files(tmp_path: Path, lib: GarmentLibrary) -> None:
    bad_png = tmp_path / "broken.png"
    bad_png.write_bytes(b"\x89PNG not really")
    bad_npz = tmp_path / "broken.npz"
    bad_npz.write_bytes(b"PK garbage")
    np.savez(tmp_path / "old.npz", format_version=np.int32(99))
    for path, words in (
        (bad_png, "cannot read"),
        (tmp_path / "missing.png", "not found"),
        (bad_npz, "unreadable"),
        (tmp_path / "old.npz", "format version"),
    ):
        with pytest.raises(GarmentError) as err:
            lib.load(path)
        assert words in str(err.value) and str(path) in str(err.value)
        assert "\n" not in str(err.value)
    with pytest.raises(GarmentError, match="unknown region"):
        lib.from_image(np.zeros((32, 32, 3), np.uint8), region="elbow")


# -- atlas ------------------------------------------------------------------------------------


def test_atlas_repair_removes_seam_spanning_faces(topo: Topology) -> None:
    before = seam_faces(topo.vertices, topo.faces, topo.corner_atlas_uv, topo.face_part)
    atlas = BodyAtlas.from_topology(topo)
    after = seam_faces(topo.vertices, topo.faces, atlas.corner_uv, topo.face_part)
    assert before.sum() > 1000 and after.sum() < 0.03 * before.sum()
    np.testing.assert_array_equal(atlas.corner_uv[~before], topo.corner_atlas_uv[~before])


# -- binding --------------------------------------------------------------------------------


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


def test_fast_normals_match_renderer(topo: Topology, posed: np.ndarray) -> None:
    v = posed[2].astype(np.float32) * 300
    fast, _ = VertexNormals(topo.faces, topo.num_vertices)(v)
    np.testing.assert_allclose(fast, vertex_normals(v, topo.faces), atol=1e-5)


# -- rendering ------------------------------------------------------------------------------


def box(centre: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned box mesh (8 vertices, 12 triangles)."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = [t for q in quads for t in ((q[0], q[1], q[2]), (q[0], q[2], q[3]))]
    return (centre + corners * half).astype(np.float32), np.array(faces, np.int32)


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


def test_texture_garment_changes_only_its_region(
    lib: GarmentLibrary, topo: Topology, layer
) -> None:
    img = np.zeros((64, 96, 4), np.uint8)
    img[...] = (250, 40, 40, 255)
    logo = lib.from_image(img, region="chest", width_fraction=0.9)
    body = front_view(topo.vertices)
    frame = np.full((H, W, 3), 90, np.uint8)
    out = layer.render(frame, [TryOnPerson(body, (logo,))])
    # > 1: the GL path returns 8-bit colour, and an alpha under half a step rounds to one
    changed = np.abs(out.astype(int) - frame).max(axis=2) > 1
    assert changed.sum() > 300
    rast = layer._rasterizer()
    px = body.copy()
    px[:, :2] += 0.5
    frags = rast.rasterize([(px, topo.faces)], W, H)
    in_region = region_faces(topo, REGIONS["chest"])[np.maximum(frags.face_id, 0)] & frags.mask
    # texture filtering (bilinear, mip level 2 at this size) may reach 2 px past the border
    grown = ndimage.binary_dilation(in_region, iterations=2)
    assert not (changed & ~grown).any()
    assert changed[in_region].mean() > 0.8


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


def test_hem_lag_smooths_relative_motion() -> None:
    lag = HemLag(0.5)
    v0 = np.zeros((2, 3), np.float32)
    weight = np.array([0.0, 1.0], np.float32)
    root = np.zeros(3, np.float32)
    np.testing.assert_array_equal(lag.apply("k", v0, root, 1.0, weight), v0)
    v1 = v0 + np.float32([10, 0, 0])
    out = lag.apply("k", v1, root, 1.0, weight)
    np.testing.assert_allclose(out[:, 0], [10.0, 5.0])  # held vertex follows, hem lags half
    moved_root = lag.apply("k", v1 + 100, root + 100, 1.0, weight)  # translation: no drag
    np.testing.assert_allclose(moved_root[:, 0], [110.0, 107.5])
    lag.keep_only([])
    np.testing.assert_array_equal(lag.apply("k", v1, root, 1.0, weight), v1)


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


# -- GL shader path, outfits ------------------------------------------------------------------


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


def test_outfits_parse_load_and_cycle(lib: GarmentLibrary, tmp_path: Path) -> None:
    assert parse_outfit("striped_tshirt + flared_skirt") == ("striped_tshirt", "flared_skirt")
    with pytest.raises(GarmentError, match="empty garment"):
        parse_outfit("striped_tshirt++flared_skirt")
    logo = tmp_path / "logo@2x.png"  # an @ in a file name is not a region
    assert cv2.imwrite(str(logo), np.full((30, 50, 3), 200, np.uint8))
    placed = lib.load(f"{logo}@back")
    assert isinstance(placed, TextureGarment) and placed.name == "logo@2x@back"
    assert placed.faces.sum() < 0.2 * len(placed.faces)
    assert isinstance(lib.load(logo), TextureGarment)  # the same file as an atlas texture
    with pytest.raises(UnknownGarment):
        lib.load("ball_gown@chest")
    cycle = OutfitCycle()
    assert cycle.assign([3, 1], 2) == [1, 0]  # appearing together: by id
    assert cycle.assign([1, 3, 7], 2) == [0, 1, 0]
    assert cycle.assign([7, 9], 2) == [0, 1]  # 3 gone: nobody changes clothes
    cycle.reset()
    assert cycle.assign([9], 2) == [0]
