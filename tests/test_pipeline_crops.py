"""Crops: the warp puts image pixels where the affine says, and crop px map back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from meshpose_core.pipeline.crops import crop_transform, invert_affine, to_image_px, warp_crops


@pytest.mark.parametrize("input_size", [(192, 192), (64, 48)])
def test_crop_uncrop_round_trip(input_size: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    boxes = np.array([[100.0, 50.0, 300.0, 250.0], [-40.0, 10.0, 60.0, 110.0]])
    to_crop = np.stack([crop_transform(b, 1.25, input_size) for b in boxes])
    to_image = invert_affine(to_crop)
    pts = rng.uniform(-50, 300, (2, 518, 3)).astype(np.float32)
    in_crop = pts.copy()
    lin = to_crop[:, None, :, :2]
    in_crop[..., :2] = (lin @ pts[..., :2, None])[..., 0] + to_crop[:, None, :, 2]
    in_crop[..., 2] *= to_crop[:, None, 0, 0]  # depth scales like x and y
    back = to_image_px(in_crop, to_image, has_depth=True)
    np.testing.assert_allclose(back, pts, atol=1e-3)
    # keypoint scores are not coordinates
    kp = np.concatenate([in_crop[..., :2], np.full((2, 518, 1), 0.7, np.float32)], -1)
    np.testing.assert_allclose(to_image_px(kp, to_image, has_depth=False)[..., 2], 0.7)


def test_crop_geometry_and_pixel_placement() -> None:
    """A bright pixel lands where the affine maps it; the box is centred with the margin."""
    image = np.zeros((240, 320, 3), np.uint8)
    image[100, 150] = 255
    box = np.array([110.0, 60.0, 190.0, 140.0])  # centre (150, 100) continuous, side 80
    m = crop_transform(box, 1.25, (100, 100))
    assert m[0, 0] == pytest.approx(1.0)  # 100 px crop for a 100 px region
    # the box centre (continuous 150, 100 = pixel-centre coords 149.5, 99.5) -> crop centre
    np.testing.assert_allclose(m[:, :2] @ [149.5, 99.5] + m[:, 2], [49.5, 49.5])
    crops = warp_crops(image, m[None], (100, 100))
    assert crops.shape == (1, 100, 100, 3) and crops.dtype == np.uint8
    y, x = np.unravel_index(np.argmax(crops[0, :, :, 0]), (100, 100))
    np.testing.assert_allclose(m @ [150, 100, 1], [x, y], atol=1e-6)
    # reused output buffer, border filled with the border value
    out = np.full((3, 100, 100, 3), 7, np.uint8)
    far = crop_transform(np.array([-400.0, -400.0, -300.0, -300.0]), 1.0, (100, 100))
    res = warp_crops(image, far[None], (100, 100), border_value=0, out=out)
    assert res.base is out or res is out[:1]
    assert (res == 0).all()
