"""Synthetic sample rendering: labels agree with the image they come with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meshpose_core.data.synthetic.appearance import random_appearance, random_background
from meshpose_core.data.synthetic.dense_labels import HighToLow, barycentric_in_triangles
from meshpose_core.data.synthetic.sample import Body, FramingConfig, render_sample
from meshpose_core.render import CpuRasterizer

FIXTURES = Path(__file__).parent / "fixtures" / "posed_bodies.npz"


@pytest.fixture(scope="module")
def h2l() -> HighToLow:
    return HighToLow.build()


@pytest.fixture(scope="module")
def samples(h2l: HighToLow) -> list[dict]:
    fx = np.load(FIXTURES)
    rng = np.random.default_rng(1)
    cfg = FramingConfig(selfie_prob=0.0)
    out = []
    for i in range(3):
        body = Body(fx["high"][i].astype(np.float64), fx["low"][i].astype(np.float64))
        out.append(render_sample(CpuRasterizer(), [body], [random_appearance(rng)], h2l, rng, cfg))
    return out


def test_barycentric_recovers_point_in_triangle() -> None:
    tri = np.array([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]])
    b = barycentric_in_triangles(np.array([[0.2, 0.3, 0.5]]), tri)  # off-plane point
    np.testing.assert_allclose(b, [[0.5, 0.2, 0.3]], atol=1e-9)


def test_high_faces_map_to_low_faces_of_the_same_part(h2l: HighToLow) -> None:
    same = h2l.low.face_part[h2l.low_face_of_high_face] == h2l.high.face_part
    assert same.mean() > 0.95


def test_sample_shapes(samples: list[dict]) -> None:
    s = samples[0]
    assert s["image"].shape == (192, 192, 3) and s["image"].dtype == np.uint8
    assert s["vertices"].shape == (518, 3) and s["keypoints"].shape == (17, 3)
    assert s["silhouette"].sum() > 500  # the body covers a real part of the crop
    assert s["dp_mask"].all()


def test_visible_vertices_lie_on_the_silhouette(samples: list[dict]) -> None:
    for s in samples:
        vis = s["visibility"] > 0.5
        assert 0.25 < vis.mean() < 0.75  # roughly the front half of a closed body
        xy = np.rint(s["vertices"][vis, :2]).astype(int)
        on = s["silhouette"][np.clip(xy[:, 1], 0, 191), np.clip(xy[:, 0], 0, 191)]
        assert on.mean() > 0.95


def test_dense_labels_point_at_their_pixels(samples: list[dict], h2l: HighToLow) -> None:
    """The low-poly surface point of each labelled pixel projects back onto that pixel."""
    for s in samples:
        tri = s["vertices"][h2l.low.faces[s["dp_face"]], :2]  # (P, 3, 2)
        recon = np.einsum("pk,pkd->pd", s["dp_bary"], tri)
        err = np.linalg.norm(recon - s["dp_points"], axis=1)
        assert np.median(err) < 2.0, np.median(err)


def test_depth_is_relative_to_the_hips(samples: list[dict]) -> None:
    for s in samples:
        z = s["vertices"][:, 2]
        assert abs(np.median(z)) < 0.2 * np.ptp(z) + 1e-6
        assert np.ptp(s["vertices"][:, 1]) > np.ptp(z)  # a standing body is taller than deep


def test_background_varies() -> None:
    rng = np.random.default_rng(0)
    a, b = random_background(rng, (64, 64)), random_background(rng, (64, 64))
    assert a.std() > 1 and np.abs(a.astype(int) - b).mean() > 5
