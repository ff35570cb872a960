"""Crops: the warp puts image pixels where the affine says, and crop px map back exactly."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from meshpose_core.data.real.crop import CropParams, warp_crop
from meshpose_core.data.real.dataset import Person, crop_person
from meshpose_core.eval.crops import person_rois
from meshpose_core.eval.eval_sets import EvalPerson
from meshpose_core.pipeline.crops import (
    body_tilt,
    crop_transform,
    follow_body,
    invert_affine,
    to_image_px,
    upright_extent_ratio,
    warp_crops,
)


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


def _textured(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    small = rng.integers(0, 256, (h // 4, w // 4, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


@pytest.mark.parametrize("rotation_deg", [0.0, 50.0, -120.0])
def test_training_evaluation_and_pipeline_crop_a_person_identically(rotation_deg: float) -> None:
    """One convention (data/real/crop.py): the same person box gives the same crop pixels in
    training (``crop_person``), evaluation (``person_rois`` 'gt') and the pipeline
    (``crop_transform`` + ``warp_crops``, whose boxes are continuous: pixel-centre + 0.5)."""
    image = _textured(240, 320)
    box = np.array([101.0, 40.0, 171.0, 210.0])  # pixel centres, as labels store them
    size = 64
    params = CropParams(rotation_deg=rotation_deg)
    person = Person(box=box, keypoints=np.zeros((17, 2)), conf=np.zeros(17))
    training = crop_person(image, person, params, size, 1.25, 0.5)["image"]
    pipeline = warp_crops(
        image, crop_transform(box + 0.5, 1.25, (size, size), math.radians(rotation_deg))[None],
        (size, size),
    )[0]  # fmt: skip
    np.testing.assert_array_equal(pipeline, training)
    if rotation_deg == 0.0:
        eval_person = EvalPerson("x.jpg", np.zeros((17, 3)), box, "annotated")
        (roi,) = person_rois([eval_person], "gt", margin=1.25)
        np.testing.assert_array_equal(warp_crop(image, roi, size), training)


def test_crop_follows_a_tilted_body() -> None:
    """A body lying along the image's x axis (hips left of shoulders) gets a crop turned by
    90 degrees (the crop's up along the image's +x): in the crop its shoulders are straight
    above its hips; the side grows by the body's own-axis / image-axis extent ratio."""
    kp = np.zeros((17, 2))
    kp[[11, 12]] = [[100.0, 200.0], [100.0, 210.0]]  # hips
    kp[[5, 6]] = [[160.0, 200.0], [160.0, 210.0]]  # shoulders: to the right
    assert body_tilt(kp) == pytest.approx(math.pi / 2)
    rotation, side = follow_body(kp, kp, rotate_above_deg=30.0)
    assert rotation == pytest.approx(math.pi / 2) and side == pytest.approx(1.0)
    m = crop_transform(np.array([80.0, 150.0, 180.0, 250.0]), 1.25, (64, 64), rotation)
    hips, shoulders = (m[:, :2] @ kp[[11, 5]].T).T + m[:, 2]
    assert shoulders[1] < hips[1] - 20 and abs(shoulders[0] - hips[0]) < 1e-6
    # nearly upright: the crop stays upright (within the training's rotation augmentation)
    upright = kp.copy()
    upright[[5, 6]] = [[105.0, 140.0], [115.0, 140.0]]
    assert follow_body(upright, upright, rotate_above_deg=30.0) == (0.0, 1.0)
    # a 45-degree diagonal body: its own-axis extent is sqrt(2) times its image-axis extent
    line = np.stack([np.linspace(0, 100, 11), np.linspace(0, 100, 11)], axis=1)
    assert upright_extent_ratio(line, math.pi / 4) == pytest.approx(math.sqrt(2))
