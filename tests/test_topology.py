"""The stored body topology: counts, closedness, parts, UVs, symmetry, landmarks, upsampling."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from meshpose_core.topology import (
    KEYPOINT_NAMES,
    LEVEL_SIZES,
    LEVELS,
    MIRROR_PART,
    NUM_PARTS,
    Topology,
    TopologyError,
    Upsampling,
)
from meshpose_core.topology.mesh_checks import check_mesh, signed_volume, uv_signed_areas

FIXTURES = Path(__file__).parent / "fixtures" / "posed_bodies.npz"
# Documented limits (docs/topology.md): part-UV flips are faces straddling a part border at
# the coarse levels; upsampling errors are those of the fixed barycentric baseline.
MAX_FLIPPED_FRACTION = 0.015
MAX_FIXED_UPSAMPLING_MEAN_MM = 25.0


@pytest.fixture(scope="module", params=LEVELS)
def topo(request) -> Topology:
    return Topology.load(request.param)


def test_counts(topo: Topology) -> None:
    assert topo.num_vertices == LEVEL_SIZES[topo.level]
    # closed genus-0 triangle mesh: F = 2V - 4
    assert topo.num_faces == 2 * topo.num_vertices - 4
    assert topo.faces.min() == 0 and topo.faces.max() == topo.num_vertices - 1


def test_watertight_manifold_genus0(topo: Topology) -> None:
    report = check_mesh(topo.faces, topo.num_vertices)
    assert report.watertight and report.manifold
    assert report.components == 1 and report.euler == 2
    assert signed_volume(topo.vertices, topo.faces) > 0.04  # outward winding, adult volume


def test_every_part_present(topo: Topology) -> None:
    assert set(np.unique(topo.face_part)) == set(range(1, NUM_PARTS + 1))
    assert set(np.unique(topo.vertex_part)) == set(range(1, NUM_PARTS + 1))


def test_vertex_part_is_one_of_its_faces(topo: Topology) -> None:
    touching = np.zeros((topo.num_vertices, NUM_PARTS + 1), bool)
    touching[topo.faces.reshape(-1), np.repeat(topo.face_part, 3)] = True
    assert touching[np.arange(topo.num_vertices), topo.vertex_part].all()


def test_uvs_in_range_and_few_flips(topo: Topology) -> None:
    for uv in (topo.corner_part_uv, topo.corner_atlas_uv, topo.vertex_part_uv):
        assert np.isfinite(uv).all()
        assert uv.min() >= 0.0 and uv.max() <= 1.0
    flipped = (uv_signed_areas(topo.corner_part_uv) <= 0).mean()
    assert flipped < MAX_FLIPPED_FRACTION
    # UVs spread over each part's chart. Charts are conformal, so fingers and toes shrink
    # towards the chart's edge and coarse hands/feet (mittens) cover less of it.
    min_span = 0.3 if topo.level == "high" else 0.15
    for p in range(1, NUM_PARTS + 1):
        uv = topo.corner_part_uv[topo.face_part == p].reshape(-1, 2)
        assert (uv.max(0) - uv.min(0) > min_span).all(), p


def test_part_uv_continuous_inside_parts(topo: Topology) -> None:
    """Every corner of a vertex in a face of the vertex's own part carries the same chart UV
    (seams only between parts), equal to the stored vertex UV."""
    f, k = np.nonzero(topo.face_part[:, None] == topo.vertex_part[topo.faces])
    v = topo.faces[f, k]
    err = np.abs(topo.corner_part_uv[f, k] - topo.vertex_part_uv[v]).max()
    assert err < 1e-4


def test_symmetry_involution_and_parts(topo: Topology) -> None:
    s = topo.symmetry
    assert (s[s] == np.arange(topo.num_vertices)).all()
    mirrored = topo.vertices[s] * np.array([-1.0, 1.0, 1.0])
    assert np.abs(mirrored - topo.vertices).max() < 1e-3  # exact up to float storage
    moved = s != np.arange(topo.num_vertices)
    assert (topo.vertex_part[s][moved] == MIRROR_PART[topo.vertex_part][moved]).all()
    # fixed points lie on the midline
    assert np.abs(topo.vertices[~moved, 0]).max() < 1e-6
    # left parts sit at +x: the person's left
    left_hand = topo.vertex_part == 4
    assert topo.vertices[left_hand, 0].min() > 0.3


def test_landmarker_rows_sum_to_one(topo: Topology) -> None:
    assert topo.landmark_index.shape[0] == len(KEYPOINT_NAMES)
    np.testing.assert_allclose(topo.landmark_weight.sum(1), 1.0, atol=1e-5)
    assert (topo.landmark_weight >= 0).all()
    np.testing.assert_allclose(topo.landmark_matrix.sum(1), 1.0, atol=1e-5)


def test_landmarks_on_fixtures_match_anny(topo: Topology) -> None:
    fx = np.load(FIXTURES)
    pred = topo.keypoints(fx[topo.level].astype(np.float64))
    err_mm = np.linalg.norm(pred - fx["keypoints"], axis=-1) * 1e3
    coco = err_mm[:, :17]
    assert coco.mean() < 10.0, coco.mean(0)
    # the nose and the shoulders of a standing body sit where anny puts them
    assert coco[:, [0, 5, 6]].max() < 15.0


def test_edges_and_adjacency(topo: Topology) -> None:
    e = topo.edges
    assert len(e) == topo.num_vertices + topo.num_faces - 2  # Euler
    assert (e[:, 0] < e[:, 1]).all()
    adj = topo.adjacency
    assert sum(len(a) for a in adj) == 2 * len(e)
    assert all(len(a) >= 3 for a in adj)


def test_vertex_iuv(topo: Topology) -> None:
    iuv = topo.vertex_iuv
    assert iuv.shape == (topo.num_vertices, 3)
    np.testing.assert_array_equal(iuv[:, 0], topo.vertex_part)


def test_fixed_upsampling_reproduces_fixtures() -> None:
    ups = Upsampling.load()
    fx = np.load(FIXTURES)
    np.testing.assert_allclose(ups.low_to_mid_weight.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(ups.mid_to_high_weight.sum(1), 1.0, atol=1e-5)
    high = ups.low_to_high(fx["low"])
    err_mm = np.linalg.norm(high - fx["high"], axis=-1) * 1e3
    assert err_mm.mean() < MAX_FIXED_UPSAMPLING_MEAN_MM
    # the baseline is exact where the levels coincide: rest template of low -> mid
    rest_mid = Upsampling.apply(
        ups.low_to_mid_index, ups.low_to_mid_weight, Topology.load("low").vertices
    )
    dev = np.linalg.norm(rest_mid - Topology.load("mid").vertices, axis=1) * 1e3
    assert np.median(dev) < 15.0
    dense = Upsampling.dense(ups.low_to_mid_index, ups.low_to_mid_weight, 518)
    np.testing.assert_allclose(
        dense @ fx["low"][0],
        ups.apply(ups.low_to_mid_index, ups.low_to_mid_weight, fx["low"][0]),
        atol=1e-5,
    )


def test_version_mismatch_and_corrupt_file(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[1] / "assets" / "topology"
    data = dict(np.load(src / "low.npz"))
    data["format_version"] = np.int32(999)
    np.savez(tmp_path / "low.npz", **data)
    with pytest.raises(TopologyError, match="format version 999"):
        Topology.load("low", asset_dir=tmp_path)
    (tmp_path / "mid.npz").write_bytes(b"not a zip file")
    with pytest.raises(TopologyError, match="corrupt"):
        Topology.load("mid", asset_dir=tmp_path)
    with pytest.raises(TopologyError, match="not found"):
        Topology.load("high", asset_dir=tmp_path)
    shutil.copy(src / "upsampling.npz", tmp_path / "upsampling.npz")
    assert Upsampling.load(tmp_path).low_to_mid_index.shape == (1723, 3)
    with pytest.raises(ValueError, match="unknown topology level"):
        Topology.load("huge")  # type: ignore[arg-type]


def test_combine_rows_is_the_weighted_gather() -> None:
    """The compiled combination equals numpy's gather + einsum for any leading shape,
    keeps float64 in float64, and refuses indices outside the coarse vertices; a
    ``RowCombination`` made once gives the same as each call."""
    from meshpose_core.topology.combine import RowCombination, combine_rows

    rng = np.random.default_rng(5)
    index = rng.integers(0, 40, (90, 7))
    weight = rng.normal(size=(90, 7)).astype(np.float32)
    for shape in [(40, 3), (2, 40, 1), (3, 2, 40, 4)]:
        coarse = rng.normal(size=shape).astype(np.float32)
        expected = np.einsum("fk,...fkd->...fd", weight, coarse[..., index, :])
        got = combine_rows(coarse, index, weight)
        assert got.shape == expected.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    coarse64 = rng.normal(size=(40, 2))
    assert combine_rows(coarse64, index, weight).dtype == np.float64
    with pytest.raises(IndexError, match="coarse"):
        combine_rows(coarse64[:30], index, weight)
    stage = RowCombination(index, weight)  # checked once, applied to any shape
    for coarse in (coarse64, coarse64[None].astype(np.float32)):
        np.testing.assert_array_equal(stage(coarse), combine_rows(coarse, index, weight))
    with pytest.raises(IndexError, match="negative"):
        RowCombination(-index, weight)
