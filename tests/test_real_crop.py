"""Crop geometry (``data.real.crop``): points, ROIs, masks and flips stay on the image content."""

from __future__ import annotations

import numpy as np
import pytest

from meshpose_core.data.real.crop import (
    CropParams,
    box_roi,
    crop_to_image_points,
    flip_crop,
    image_to_crop_points,
    joints_roi,
    resample_crop_mask,
)


def test_flip_crop_mirrors_pixels_and_swaps_labels() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    image[2, 1] = 255
    keypoints = np.zeros((17, 3))
    keypoints[9] = [1.0, 2.0, 1.0]  # left wrist on the bright pixel
    mask = np.zeros((8, 8), bool)
    mask[2, 1] = True
    out, kp, m = flip_crop(image, keypoints, mask)
    assert out[2, 6].all() and m[2, 6]
    assert kp[10].tolist() == [6.0, 2.0, 1.0]  # now the right wrist, at x = 8 - 1 - 1
    assert kp[9].tolist() == [7.0, 0.0, 0.0]  # the (empty) right wrist moved to the left slot


def test_points_round_trip_and_roi_geometry() -> None:
    roi = box_roi(np.array([10.0, 20.0, 50.0, 100.0]), 1.25, CropParams(rotation_deg=20.0))
    assert roi.size == pytest.approx(100.0)
    assert roi.center == pytest.approx((30.5, 60.5))
    pts = np.array([[12.0, 30.0], [47.5, 90.25]])
    back = crop_to_image_points(roi, 64, image_to_crop_points(roi, 64, pts))
    np.testing.assert_allclose(back, pts, atol=1e-9)
    # the box centre (pixel centres) lands on the crop centre ((S - 1) / 2)
    np.testing.assert_allclose(image_to_crop_points(roi, 64, np.array([30.0, 60.0])), [31.5, 31.5])


def test_joints_roi_is_upright_on_hips() -> None:
    kp = np.zeros((17, 3))
    kp[[5, 6, 11, 12]] = [[90, 10, 1], [90, 30, 1], [50, 10, 1], [50, 30, 1]]  # lying, head right
    roi = joints_roi(kp, kp[:, 2] > 0)
    assert roi.center == pytest.approx((50.5, 20.5))
    up = roi.crop_to_image(1)[:, :2] @ np.array([0.0, -1.0])  # crop "up" in the image
    np.testing.assert_allclose(up / np.linalg.norm(up), [1.0, 0.0], atol=1e-9)
    assert joints_roi(kp, np.eye(17, dtype=bool)[0]) is None


def test_mask_resampling_follows_the_crop() -> None:
    mask_roi = box_roi(np.array([-0.5, -0.5, 63.5, 63.5]), 1.0)  # exactly the 64 x 64 pixels
    mask = np.zeros((64, 64), bool)
    mask[10:30, 40:50] = True
    same = resample_crop_mask(mask, mask_roi, mask_roi, 64)
    np.testing.assert_array_equal(same, mask)
    # a crop of the right half at twice the resolution
    half = box_roi(np.array([31.5, -0.5, 63.5, 31.5]), 1.0)
    out = resample_crop_mask(mask, mask_roi, half, 64)
    assert out[20:60, 16:36].all() and out.sum() == 40 * 20
