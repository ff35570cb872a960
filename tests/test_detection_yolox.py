"""Tests of the YOLOX-Nano person detector: grids, decoding, NMS, letterbox, real photos."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from test_detection import SKIER_BOX, STREET_BOXES, read_rgb

from meshpose_core.detection import (
    Detection,
    DetectorError,
    YoloxConfig,
    YoloxDetector,
    create_person_detector,
    decode_yolox,
    hard_nms,
    letterbox,
    yolox_grids,
)
from meshpose_core.detection.nms import box_iou
from meshpose_core.detection.yolox import tracking_box

REPO = Path(__file__).resolve().parents[1]


def test_grids_follow_the_models_row_order() -> None:
    grids, strides = yolox_grids(416)
    assert grids.shape == (3549, 2) and strides.shape == (3549, 1)  # 52^2 + 26^2 + 13^2
    np.testing.assert_array_equal(grids[:3], [[0, 0], [1, 0], [2, 0]])  # row-major, x first
    np.testing.assert_array_equal(grids[52], [0, 1])
    assert strides[0, 0] == 8 and strides[52 * 52, 0] == 16 and strides[-1, 0] == 32
    np.testing.assert_array_equal(grids[-1], [12, 12])
    assert yolox_grids(320)[0].shape == (2100, 2)
    with pytest.raises(ValueError, match="multiple of 32"):
        yolox_grids(300)


def test_decode_hand_made_grid() -> None:
    # a 64 px input: 8x8 cells at stride 8, 4x4 at 16, 2x2 at 32 = 84 rows of 5 + 2 classes
    grids, strides = yolox_grids(64)
    raw = np.zeros((84, 7), np.float32)
    row = 2 * 8 + 3  # cell x 3, y 2 of the stride-8 grid
    raw[row] = [0.5, 0.25, math.log(4), math.log(8), 0.8, 0.5, 0.9]
    last = 64 + 16 + 3  # cell x 1, y 1 of the stride-32 grid
    raw[last] = [0.0, 0.0, 0.0, 0.0, 1.0, 0.25, 0.0]
    boxes, scores = decode_yolox(raw, grids, strides)
    # centre (cell + d) * stride = (28, 18); size exp(log s) * stride = (32, 64)
    np.testing.assert_allclose(boxes[row], [12, -14, 44, 50], atol=1e-5)
    np.testing.assert_allclose(boxes[last], [16, 16, 48, 48], atol=1e-5)  # centre 32, side 32
    assert scores[row] == pytest.approx(0.4) and scores[last] == pytest.approx(0.25)
    assert np.count_nonzero(scores) == 2
    _, class1 = decode_yolox(raw, grids, strides, class_index=1)
    assert class1[row] == pytest.approx(0.72)
    # a huge log size stays finite
    raw[0, 2:4] = 1e4
    assert np.isfinite(decode_yolox(raw, grids, strides)[0]).all()


def test_decode_rejects_bad_shapes() -> None:
    grids, strides = yolox_grids(64)
    with pytest.raises(ValueError, match="5 \\+ classes"):
        decode_yolox(np.zeros((84, 5)), grids, strides)
    with pytest.raises(ValueError, match="do not fit"):
        decode_yolox(np.zeros((80, 85)), grids, strides)


def test_hard_nms_keeps_best_of_overlaps_and_separate_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 0, 30, 10], [0, 0, 10, 9.9]], float)
    scores = np.array([0.6, 0.9, 0.5, 0.7])
    np.testing.assert_array_equal(hard_nms(boxes, scores, 0.45), [1, 2])
    np.testing.assert_array_equal(hard_nms(boxes, scores, 0.45, max_detections=1), [1])
    assert hard_nms(np.zeros((0, 4)), np.zeros(0)).shape == (0,)


def test_top_left_letterbox_maps_back() -> None:
    image = np.zeros((30, 60, 3), np.uint8)
    canvas, placement = letterbox(image, 32, fill=114, centred=False)
    assert canvas[:16].max() == 0 and (canvas[16:] == 114).all()  # pad at the bottom only
    corner = placement.to_image(np.array([[16.0, 8.0]]) / 32)
    np.testing.assert_allclose(corner, [[30.0, 15.0]])


def test_box_detection_gives_upright_roi_and_centre() -> None:
    person = np.array([100.0, 50.0, 140.0, 150.0])
    box = tracking_box(person, 1.1)
    np.testing.assert_allclose(box, [65, 45, 175, 155])  # square, side 1.1 x 100
    det = Detection(box=box, score=0.9, person_box=person)
    roi = det.roi()
    assert roi.rotation == 0 and roi.size == pytest.approx(110 * 1.25)
    np.testing.assert_allclose(det.centre(), [120, 100])


@pytest.fixture(scope="module")
def detector() -> YoloxDetector:
    return YoloxDetector()


def test_single_person_photo(detector: YoloxDetector) -> None:
    boxes, scores = detector.detect_boxes(read_rgb("coco_000000000785_skier.jpg"))
    assert scores[0] > 0.7
    assert box_iou(SKIER_BOX, boxes[:1])[0] > 0.7


def test_multi_person_photo_each_person_once(detector: YoloxDetector) -> None:
    detections = detector.detect(read_rgb("coco_000000252219_street.jpg"))
    assert [d.score for d in detections] == sorted((d.score for d in detections), reverse=True)
    for truth in STREET_BOXES:
        ious = box_iou(truth, np.array([d.person_box for d in detections]))
        assert np.count_nonzero(ious > 0.5) == 1, f"person {truth}: IoUs {ious.round(2)}"


def test_other_input_size_and_no_person(detector: YoloxDetector) -> None:
    small = YoloxDetector(YoloxConfig(input_size=320))
    boxes, _ = small.detect_boxes(read_rgb("coco_000000000785_skier.jpg"))
    assert box_iou(SKIER_BOX, boxes[:1])[0] > 0.6
    assert detector.detect(np.full((480, 640, 3), 128, np.uint8)) == []
    with pytest.raises(ValueError, match="RGB uint8"):
        detector.detect(np.zeros((480, 640), np.uint8))


def test_missing_corrupt_or_wrong_model(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match="not found"):
        YoloxDetector(YoloxConfig(model_path=tmp_path / "nope.onnx"))
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not a protobuf" * 10)
    with pytest.raises(DetectorError, match="unreadable"):
        YoloxDetector(YoloxConfig(model_path=corrupt))
    with pytest.raises(ValueError, match="unknown person detector"):
        create_person_detector("hog")


def test_cli_detector_option_reaches_the_config() -> None:
    from meshpose_app.options import build_parser, config_from_args

    assert config_from_args(build_parser().parse_args([])).person_detector == "auto"
    args = build_parser().parse_args(["--detector", "blazepose"])
    assert config_from_args(args).person_detector == "blazepose"
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--detector", "hog"])
    assert exc.value.code == 2
