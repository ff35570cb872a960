"""Cameras (``camera``): orthographic fit, pinhole projection."""

from __future__ import annotations

import numpy as np
import pytest
from render_helpers import icosphere

from meshpose_core.render import fit_orthographic, project_pinhole, rasterize


def test_fit_orthographic_fills_image_with_margin():
    v, _ = icosphere(1)
    body = v * np.array([0.3, 0.9, 0.2]) + np.array([0.1, 1.0, 0.0])
    px = fit_orthographic(body, 200, 100, margin=0.1)
    # Height limits: 100 * 0.8 = 80 px tall, centred.
    assert px[:, 1].min() == pytest.approx(10.0, abs=1e-3)
    assert px[:, 1].max() == pytest.approx(90.0, abs=1e-3)
    assert (px[:, 0].min() + px[:, 0].max()) / 2 == pytest.approx(100.0, abs=1e-3)
    top = np.argmax(body[:, 1])
    assert px[top, 1] == px[:, 1].min()  # +Y up -> smallest image y
    front = np.argmax(body[:, 2])
    assert px[front, 2] == px[:, 2].min()  # +Z toward viewer -> nearest
    left = np.argmax(body[:, 0])
    assert px[left, 0] == px[:, 0].max()  # person's left appears on the image right


def test_project_pinhole():
    pts = np.array([[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0, 0, -0.5]], float)
    out = project_pinhole(pts, 640, 480, focal_px=500.0, distance=4.0, target=(0, 0, 0))
    np.testing.assert_allclose(out[0], [320, 240, 0], atol=1e-4)
    np.testing.assert_allclose(out[1], [320 + 500 * 0.5 / 4, 240, 0], atol=1e-4)
    np.testing.assert_allclose(out[2], [320, 240 - 500 * 0.5 / 4, 0], atol=1e-4)
    assert out[3, 2] < 0 < out[4, 2]  # nearer -> smaller z
    np.testing.assert_allclose(out[3, 2], 500 * (1 - 4 / 3.5), atol=1e-3)
    turned = project_pinhole(
        pts, 640, 480, focal_px=500.0, distance=4.0, target=(0, 0, 0), yaw_deg=90
    )
    assert turned[3, 0] > 320 + 50  # the nose (+Z) turns toward the person's left (+X)
    behind = project_pinhole(
        np.array([[0, 0, 5.0]]), 64, 48, focal_px=50.0, distance=4.0, target=(0, 0, 0)
    )
    assert np.isnan(behind).all()


def test_pinhole_sphere_renders_as_disc():
    v, f = icosphere(2)
    px = project_pinhole(v * 0.5, 96, 96, focal_px=300.0, distance=4.0)
    frags = rasterize([(px, f)], 96, 96)
    rows, cols = np.mgrid[0:96, 0:96]
    d = np.hypot(cols + 0.5 - 48, rows + 0.5 - 48)
    assert frags.mask[d < 33].all() and not frags.mask[d > 40].any()
    assert frags.depth[48, 48] < 0  # front of the sphere is nearer than its centre
