"""Training labels from body fits (meshpose_core.fitting.supervision) and their mixing."""

from __future__ import annotations

import numpy as np
import pytest

from meshpose_core.detection import RotatedRoi
from meshpose_core.fitting.fitter import BodyFits, pose_fitted
from meshpose_core.fitting.subset_body import SubsetBody
from meshpose_core.fitting.supervision import FitSupervision, FittedBody
from meshpose_core.topology import Topology
from meshpose_core.train.mixing import real_as_full

FIT = 128
SIZE = 96


@pytest.fixture(scope="module")
def body() -> FittedBody:
    """A person facing the camera, upright, in a fit frame whose ROI is the crop's ROI."""
    from meshpose_core.body.poses import PoseLibrary

    lib = PoseLibrary.load()
    fits = BodyFits(
        shape=np.zeros((1, 10), np.float32),
        pose=np.zeros_like(lib.poses[:1], np.float32),  # anny reference pose: arms out
        global_rotation=np.zeros((1, 3), np.float32),
        scale=np.array([65.0], np.float32),
        translation=np.array([[64.0, 60.0]], np.float32),
        joint_error=np.zeros(1, np.float32),
        mask_iou=np.ones(1, np.float32),
        kept=np.ones(1, bool),
    )
    levels, world = pose_fitted(SubsetBody(levels=("low", "high")), fits)
    low, high = levels["low"], levels["high"]
    roi = np.array([100.0, 80.0, 120.0, 0.0], np.float32)  # centre x, y, side, rotation
    return FittedBody(low[0], high[0], world[0], 65.0, roi, FIT)


@pytest.fixture(scope="module")
def supervision() -> FitSupervision:
    return FitSupervision()


def test_labels_follow_the_crop(body, supervision):
    crop = RotatedRoi(center=(100.0, 80.0), size=120.0, rotation=0.0)
    out = supervision(body, crop, SIZE, False, None, np.random.default_rng(0))
    # same region at SIZE instead of FIT px: positions scale by SIZE / FIT about the centre
    k = SIZE / FIT
    want = (body.low[:, :2] + 0.5) * k - 0.5
    np.testing.assert_allclose(out["vertices"][:, :2], want, atol=1e-3)
    # depth relative to the hips, in the same pixels
    assert abs(np.ptp(out["vertices"][:, 2]) - np.ptp(body.low[:, 2]) * k) < 1e-3
    vis = out["visibility"]
    assert 0.3 < vis.mean() < 0.8  # the front half of a body facing the camera
    # clearly in front, on the torso and head (hands and feet are a pixel or two thin here)
    front = body.low[:, 2] < np.median(body.low[:, 2]) - 5
    front &= np.isin(Topology.load("low").vertex_part, (1, 2, 23, 24))
    assert vis[front].mean() > 0.95
    assert out["dp_mask"].sum() == supervision.config.dense_points
    faces = Topology.load("low").faces
    assert out["dp_face"].max() < len(faces)
    np.testing.assert_allclose(out["dp_bary"].sum(1), 1.0, atol=1e-5)


def test_flipped_crop_is_the_mirrored_body(body, supervision):
    crop = RotatedRoi(center=(100.0, 80.0), size=120.0, rotation=0.0)
    rng = np.random.default_rng(0)
    plain = supervision(body, crop, SIZE, False, None, rng)
    flipped = supervision(body, crop, SIZE, True, None, rng)
    sym = Topology.load("low").symmetry
    mirrored = plain["vertices"][sym].copy()
    mirrored[:, 0] = SIZE - 1 - mirrored[:, 0]
    np.testing.assert_allclose(flipped["vertices"], mirrored, atol=1e-3)
    agree = (flipped["visibility"] == plain["visibility"][sym]).mean()
    assert agree > 0.97  # edge ties of the depth test aside


def test_mask_hides_vertices(body, supervision):
    crop = RotatedRoi(center=(100.0, 80.0), size=120.0, rotation=0.0)
    mask = np.ones((SIZE, SIZE), bool)
    mask[:, : SIZE // 2] = False  # something covers the left half of the person
    out = supervision(body, crop, SIZE, False, mask, np.random.default_rng(0))
    left = out["vertices"][:, 0] < SIZE // 2 - 1
    assert not out["visibility"][left].any()
    pts = out["dp_points"][out["dp_mask"]]
    assert (pts[:, 0] >= SIZE // 2).all()  # dense labels only where the person is seen


def test_mixing_keeps_fit_supervision(body, supervision):
    crop = RotatedRoi(center=(100.0, 80.0), size=120.0, rotation=0.0)
    fit = supervision(body, crop, SIZE, False, None, np.random.default_rng(0))
    real = {
        "image": np.zeros((SIZE, SIZE, 3), np.uint8),
        "keypoints": np.zeros((17, 3), np.float32),
        "keypoints_mask": np.ones(17, bool),
        "silhouette": np.zeros((SIZE, SIZE), bool),
        "silhouette_mask": np.array(False),
    }
    plain = real_as_full(real, 160)
    assert plain["vertices_mask"] == 0 and not plain["dp_mask"].any()
    full = real_as_full({**real, **fit}, 160)
    assert full["vertices_mask"] == 1 and full["visibility_mask"] == 1
    np.testing.assert_array_equal(full["vertices"], fit["vertices"])
    assert set(full) == set(plain)
