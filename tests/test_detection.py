"""Tests of the BlazePose person detector: anchors, decoding, weighted NMS, ROI, real photos."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from meshpose_core.detection import (
    BlazePoseDetector,
    DetectorConfig,
    DetectorError,
    decode_regressors,
    generate_anchors,
    letterbox,
    pose_detector_anchors,
    roi_from_keypoints,
    sigmoid_scores,
    weighted_nms,
)
from meshpose_core.detection.windows import detection_windows

REPO = Path(__file__).resolve().parents[1]
TEST_IMAGES = REPO / "assets" / "test_images"
LANDMARK_MODEL = REPO / "assets" / "blazepose" / "pose_landmark_full.tflite"

# COCO person boxes (x0, y0, x1, y1) of the test images, scaled to their 480 px width.
SKIER_BOX = np.array([280.79, 44.73, 499.49, 391.41]) * 0.75
STREET_BOXES = (
    np.array(
        [
            [9.79, 167.06, 131.73, 393.51],
            [326.28, 174.56, 397.52, 371.81],
            [510.44, 171.27, 634.10, 387.03],
        ]
    )
    * 0.75
)


def read_rgb(name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(TEST_IMAGES / name)), cv2.COLOR_BGR2RGB)


def covered_fraction(inner: np.ndarray, outer: np.ndarray) -> float:
    """Fraction of box ``inner``'s area lying inside box ``outer`` (both x0, y0, x1, y1)."""
    lo, hi = np.maximum(inner[:2], outer[:2]), np.minimum(inner[2:], outer[2:])
    return float(np.prod(np.clip(hi - lo, 0, None)) / np.prod(inner[2:] - inner[:2]))


@pytest.fixture(scope="module")
def detector() -> BlazePoseDetector:
    return BlazePoseDetector()


# --- anchors -----------------------------------------------------------------------------


def test_anchor_count_and_layout() -> None:
    anchors = pose_detector_anchors()
    assert anchors.shape == (2254, 4)
    assert np.all(anchors[:, 2:] == 1.0)  # fixed anchor size
    # stride 8: 28x28 cells, 2 anchors each, row-major, centred in their cell
    np.testing.assert_allclose(anchors[0, :2], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[1, :2], anchors[0, :2])
    np.testing.assert_allclose(anchors[2, :2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[2 * 28, :2], [0.5 / 28, 1.5 / 28])
    # stride 16 starts after 28*28*2 anchors
    np.testing.assert_allclose(anchors[1568, :2], [0.5 / 14, 0.5 / 14])
    # the three stride-32 layers share a 7x7 grid: 6 anchors per cell
    start = 1568 + 14 * 14 * 2
    np.testing.assert_allclose(anchors[start : start + 6, :2], [[0.5 / 7, 0.5 / 7]] * 6)
    np.testing.assert_allclose(anchors[start + 6, :2], [1.5 / 7, 0.5 / 7])
    np.testing.assert_allclose(anchors[-1, :2], [6.5 / 7, 6.5 / 7])


def test_anchor_generation_is_configurable() -> None:
    from meshpose_core.detection import SsdAnchorConfig

    anchors = generate_anchors(SsdAnchorConfig(input_size=128, strides=(16, 32)))
    assert anchors.shape == (8 * 8 * 2 + 4 * 4 * 2, 4)


# --- decoding and scores -------------------------------------------------------------------


def test_decode_hand_made_regressors() -> None:
    anchors = np.array([[0.5, 0.5, 1.0, 1.0], [0.25, 0.75, 0.5, 0.5]], dtype=np.float32)
    raw = np.zeros((2, 12), dtype=np.float32)
    # anchor 0: centre shifted by (+0.1, -0.05), box 0.2 x 0.4, keypoint 1 at (+1, +1)
    raw[0, :4] = [22.4, -11.2, 44.8, 89.6]
    raw[0, 6:8] = [224.0, 224.0]
    # anchor 1 (half size): the same raw shift moves half as far
    raw[1, :4] = [22.4, 0.0, 44.8, 44.8]
    boxes, keypoints = decode_regressors(raw, anchors, 224.0)
    np.testing.assert_allclose(boxes[0], [0.5, 0.25, 0.7, 0.65], atol=1e-6)
    np.testing.assert_allclose(keypoints[0], [[0.5, 0.5], [1.5, 1.5], [0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_allclose(boxes[1], [0.25, 0.7, 0.35, 0.8], atol=1e-6)
    assert keypoints.shape == (2, 4, 2)


def test_decode_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="regressors"):
        decode_regressors(np.zeros((3, 7)), np.zeros((3, 4)), 224.0)
    with pytest.raises(ValueError, match="anchors"):
        decode_regressors(np.zeros((3, 12)), np.zeros((2, 4)), 224.0)


def test_sigmoid_scores_are_clipped_without_overflow() -> None:
    with np.errstate(over="raise"):
        scores = sigmoid_scores(np.array([-1e6, 0.0, 1e6, 2.0]), clip=100.0)
    np.testing.assert_allclose(scores, [0.0, 0.5, 1.0, 1 / (1 + math.exp(-2))], atol=1e-6)


# --- weighted NMS ---------------------------------------------------------------------------


def test_weighted_nms_merges_overlaps_and_keeps_separate_boxes() -> None:
    boxes = np.array(
        [[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [3.0, 3.0, 4.0, 4.0]], dtype=np.float32
    )
    keypoints = np.array([[[0.0, 0.0]], [[1.0, 2.0]], [[5.0, 5.0]]], dtype=np.float32)
    scores = np.array([0.6, 0.9, 0.7], dtype=np.float32)
    merged = weighted_nms(boxes, keypoints, scores, iou_threshold=0.3)
    assert merged.scores.tolist() == pytest.approx([0.9, 0.7])  # best score, not the mean
    w = np.array([0.9, 0.6]) / 1.5  # the best box and the one it absorbs, by score
    np.testing.assert_allclose(merged.boxes[0], w @ boxes[[1, 0]], rtol=1e-6)
    np.testing.assert_allclose(merged.keypoints[0], [[w[0] * 1.0, w[0] * 2.0]], rtol=1e-6)
    np.testing.assert_allclose(merged.boxes[1], boxes[2])
    assert weighted_nms(boxes, keypoints, scores, max_detections=1).scores.shape == (1,)


def test_weighted_nms_handles_no_candidates() -> None:
    merged = weighted_nms(np.zeros((0, 4)), np.zeros((0, 4, 2)), np.zeros(0))
    assert merged.boxes.shape == (0, 4) and merged.keypoints.shape == (0, 4, 2)


# --- letterbox, windows, ROI ----------------------------------------------------------------


def test_letterbox_round_trip() -> None:
    image = np.full((320, 480, 3), 255, dtype=np.uint8)
    canvas, placement = letterbox(image, 224)
    assert canvas.shape == (224, 224, 3)
    assert placement.pad == (0.0, 37.0) and canvas[:37].max() == 0 and canvas[37:186].min() > 0
    point = np.array([240.0, 160.0])  # frame centre -> input centre
    normalised = (point * np.array(placement.scale) + np.array(placement.pad)) / 224
    np.testing.assert_allclose(normalised, [0.5, 0.5], atol=1 / 224)  # integer padding
    np.testing.assert_allclose(placement.to_image(normalised), point, atol=1e-3)


def test_detection_windows() -> None:
    assert detection_windows(480, 640, 2) == [
        (0, 0, 640, 480),
        (0, 0, 480, 480),
        (160, 0, 640, 480),
    ]
    assert detection_windows(480, 640, 1) == [(0, 0, 640, 480), (80, 0, 560, 480)]
    assert detection_windows(640, 480, 2)[1:] == [(0, 0, 480, 480), (0, 160, 480, 640)]
    assert detection_windows(500, 520, 2) == [(0, 0, 520, 500)]  # nearly square: whole frame
    assert detection_windows(480, 640, 0) == [(0, 0, 640, 480)]


def test_roi_upright_and_lying_person() -> None:
    upright = roi_from_keypoints(np.array([100.0, 200.0]), np.array([100.0, 120.0]))
    assert upright.rotation == pytest.approx(0.0)
    assert upright.size == pytest.approx(2 * 80 * 1.25)
    assert upright.center == (100.0, 200.0)
    # head to the right: the crop must turn by +90 degrees so the body is upright in it
    lying = roi_from_keypoints(np.array([100.0, 200.0]), np.array([180.0, 200.0]))
    assert lying.rotation == pytest.approx(math.pi / 2)
    crop = lying.image_to_crop(256)
    scale_in_crop = crop @ np.array([180.0, 200.0, 1.0])
    np.testing.assert_allclose(scale_in_crop, [128.0, 128.0 - 80 * 256 / 200], atol=1e-9)
    np.testing.assert_allclose(lying.crop_to_image(256) @ [128.0, 128.0, 1.0], [100.0, 200.0])
    # corners of the upright crop are the axis-aligned square around the hips
    np.testing.assert_allclose(upright.corners()[0], [0.0, 100.0])
    np.testing.assert_allclose(upright.corners()[2], [200.0, 300.0])


def test_roi_warp_matrix_samples_the_right_pixels() -> None:
    image = np.zeros((100, 100), dtype=np.uint8)
    image[20:40, 60:80] = 255  # a bright square centred at (70, 30)
    roi = roi_from_keypoints(np.array([70.0, 30.0]), np.array([70.0, 14.0]), enlarge=1.0)
    crop = cv2.warpAffine(image, roi.warp_matrix(32), (32, 32))
    assert crop[6:26, 6:26].min() == 255
    assert crop[:5].max() == 0 and crop[:, :5].max() == 0 and crop[27:, 27:].max() == 0


# --- the real detector ----------------------------------------------------------------------


def test_single_person_photo(detector: BlazePoseDetector) -> None:
    detections = detector.detect(read_rgb("coco_000000000785_skier.jpg"))
    assert len(detections) == 1
    person = detections[0]
    assert person.score > 0.8
    assert covered_fraction(SKIER_BOX, person.box) > 0.95
    assert person.keypoints.shape == (4, 2)
    x0, y0, x1, y1 = SKIER_BOX
    hips, shoulders = person.keypoints[0], person.keypoints[2]
    assert x0 < hips[0] < x1 and y0 < hips[1] < y1 and shoulders[1] < hips[1]
    roi = person.roi()
    assert abs(roi.rotation) < math.radians(30)
    # the whole person lies inside the rotated crop
    to_crop = roi.image_to_crop(1)
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]])
    inside = corners @ to_crop.T
    assert np.all((inside > -0.05) & (inside < 1.05))


def test_multi_person_photo(detector: BlazePoseDetector) -> None:
    detections = detector.detect(read_rgb("coco_000000252219_street.jpg"))
    assert len(detections) == len(STREET_BOXES)
    assert [d.score for d in detections] == sorted((d.score for d in detections), reverse=True)
    for truth in STREET_BOXES:
        inside = [
            d
            for d in detections
            if truth[0] < d.keypoints[0, 0] < truth[2] and truth[1] < d.keypoints[0, 1] < truth[3]
        ]
        assert len(inside) == 1, f"person {truth} matched {len(inside)} detections"
        assert covered_fraction(truth, inside[0].box) > 0.8


def test_empty_frame_gives_no_detection(detector: BlazePoseDetector) -> None:
    assert detector.detect(np.full((480, 640, 3), 128, dtype=np.uint8)) == []


def test_bad_frames_are_rejected(detector: BlazePoseDetector) -> None:
    for frame in (
        np.zeros((480, 640), dtype=np.uint8),
        np.zeros((480, 640, 3), dtype=np.float32),
        np.zeros((480, 640, 4), dtype=np.uint8),
        np.zeros((0, 640, 3), dtype=np.uint8),
    ):
        with pytest.raises(ValueError, match="RGB uint8"):
            detector.detect(frame)


def test_missing_corrupt_or_wrong_model(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match="not found"):
        BlazePoseDetector(DetectorConfig(model_path=tmp_path / "nope.tflite"))
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"this is not a flatbuffer" * 10)
    with pytest.raises(DetectorError, match="unreadable"):
        BlazePoseDetector(DetectorConfig(model_path=corrupt))
    with pytest.raises(DetectorError, match="not the BlazePose pose detector"):
        BlazePoseDetector(DetectorConfig(model_path=LANDMARK_MODEL))
