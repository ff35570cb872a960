"""The person detector chosen by the picture (``detection/auto_detector.py``): the close-up
rule on hand-made boxes, the choice made once per stream with scripted detectors, and the
pipeline asking again after ``reset``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from meshpose_core.detection import AutoPersonDetector, Detection, is_close_up
from meshpose_core.pipeline import NetworkConfig, Pipeline, PipelineConfig, RenderConfig

H = 480  # frame height px
ONE_CLOSE = np.array([[100.0, 40.0, 540.0, 479.0]])  # head and shoulders filling the frame


def test_a_close_up_is_a_large_person_cut_below_whose_body_continues() -> None:
    body, hip = np.array([[20.0, 0.0, 620.0, 1500.0]]), np.array([[320.0, 900.0]])
    assert is_close_up(ONE_CLOSE, body, hip, H)
    # a whole body filling the frame: BlazePose's body box ends near the frame's bottom
    assert not is_close_up(ONE_CLOSE, np.array([[150.0, 10.0, 490.0, 470.0]]), hip, H)
    assert not is_close_up(ONE_CLOSE, body, np.array([[700.0, 900.0]]), H)  # someone else's
    assert not is_close_up(ONE_CLOSE, np.zeros((0, 4)), np.zeros((0, 2)), H)
    small = np.array([[300.0, 300.0, 360.0, 479.0]])  # cut below, but not filling the frame
    assert not is_close_up(small, body, hip, H)
    floating = ONE_CLOSE - [0, 40, 0, 40]  # not cut by the frame's bottom
    assert not is_close_up(floating, body, hip, H)
    crowd = np.concatenate([ONE_CLOSE, small, small + np.array([100.0, 0, 100, 0])])
    assert not is_close_up(crowd, body, hip, H)  # three people: a scene, not a selfie
    assert not is_close_up(np.zeros((0, 4)), body, hip, H)


class Scripted:
    """A detector returning what the test sets, counting its calls."""

    def __init__(self, detections: list[Detection]) -> None:
        self.detections = detections
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.calls += 1
        return list(self.detections)


def yolox_person(box: np.ndarray, score: float) -> Detection:
    return Detection(box=box, score=score, person_box=box)


FRAME = np.zeros((H, 640, 3), np.uint8)
BLAZEPOSE_BODY = Detection(
    box=np.array([20.0, 0.0, 620.0, 1500.0]),
    score=0.9,
    keypoints=np.array([[320.0, 900.0], [320.0, 100.0]]),
)


def test_the_stream_keeps_the_detector_its_first_sure_person_chose() -> None:
    yolox = Scripted([yolox_person(ONE_CLOSE[0], 0.3)])  # weak: nothing decided yet
    blazepose = Scripted([BLAZEPOSE_BODY])
    auto = AutoPersonDetector(yolox, blazepose)  # type: ignore[arg-type]
    assert auto.detect(FRAME) == yolox.detections and auto.chosen is None
    assert blazepose.calls == 0
    yolox.detections = [yolox_person(ONE_CLOSE[0], 0.8)]
    assert auto.detect(FRAME) == [BLAZEPOSE_BODY]  # a close-up: BlazePose's people
    assert auto.chosen == "blazepose"
    auto.detect(FRAME)
    assert (yolox.calls, blazepose.calls) == (2, 2)  # YOLOX no longer runs
    auto.reset()
    blazepose.detections = []  # a new input: a whole body YOLOX finds, no close-up
    assert auto.detect(FRAME) == yolox.detections and auto.chosen == "yolox"
    auto.detect(FRAME)
    assert blazepose.calls == 3  # asked once, to decide


def test_the_pipeline_chooses_again_after_a_reset(tiny_model: Path) -> None:
    config = PipelineConfig(
        network=NetworkConfig(model=str(tiny_model), backend="torch", device="cpu", threads=1),
        person_detector="auto",
        render=RenderConfig(layers=()),
    )
    with Pipeline(config) as pipe:
        assert isinstance(pipe.detector, AutoPersonDetector)
        pipe.detector.chosen = "blazepose"
        pipe.reset()
        assert pipe.detector.chosen is None
