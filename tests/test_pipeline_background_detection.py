"""Scheduled detector runs in a worker thread (``pipeline/background_detection.py``): the
detections carried to the frame they are used on, the worker's life cycle, and what the
pipeline does with them (the same people ``lag`` frames later, every run alike)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_pipeline_follow import FRAME, Scripted

from meshpose_core.detection import Detection
from meshpose_core.pipeline import NetworkConfig, Pipeline, PipelineConfig, RenderConfig
from meshpose_core.pipeline.background_detection import BackgroundDetection, carried_forward
from meshpose_core.pipeline.motion import MotionGateConfig
from meshpose_core.pipeline.network import Network
from meshpose_core.pipeline.tracker import TrackerConfig

PERSON = np.array([100.0, 60.0, 200.0, 160.0])
NEWCOMER = np.array([10.0, 20.0, 60.0, 70.0])


def test_carried_forward_moves_a_tracks_detection_as_its_box_moved() -> None:
    then = np.array([[100.0, 60.0, 200.0, 160.0], [300.0, 0.0, 310.0, 10.0]])
    now = then + np.array([[8.0, -2.0, 12.0, -2.0], [50.0, 50.0, 50.0, 50.0]])
    boxes = np.array([[104.0, 62.0, 204.0, 162.0], [0.0, 0.0, 20.0, 20.0]])
    out = carried_forward(boxes, then, now, iou_threshold=0.3)
    np.testing.assert_allclose(out[0], [112.0, 60.0, 216.0, 160.0])  # with track 0
    np.testing.assert_allclose(out[1], boxes[1])  # nobody's: a newcomer stays put
    assert carried_forward(boxes, np.zeros((0, 4)), np.zeros((0, 4)), 0.3).shape == (2, 4)
    assert carried_forward(np.zeros((0, 4)), then, now, 0.3).shape == (0, 4)


class GatedDetector:
    """Returns one detection of whatever it sees, once the test lets it run."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.threads: list[str] = []
        self.seen: list[float] = []

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.go.wait(5.0)
        self.threads.append(threading.current_thread().name)
        self.seen.append(float(image.mean()))
        return [Detection(box=PERSON + 4.0, score=0.8)]


def test_a_run_is_due_after_lag_frames_and_sees_the_frame_it_started_on() -> None:
    detector = GatedDetector()
    worker = BackgroundDetection(lag=2)
    image = np.zeros((40, 40, 3), np.uint8)
    worker.start(detector, image, {1: PERSON})
    image[:] = 255  # the caller draws on its frame meanwhile
    detector.go.set()
    with pytest.raises(RuntimeError, match="already pending"):
        worker.start(detector, image, {})
    assert worker.pending and not worker.tick() and worker.tick()
    boxes, scores = worker.collect({1: PERSON + 10.0}, iou_threshold=0.3)
    np.testing.assert_allclose(boxes, [PERSON + 14.0])  # carried with track 1
    np.testing.assert_allclose(scores, [0.8])
    assert not worker.pending
    assert detector.seen == [0.0] and detector.threads[0] != threading.current_thread().name
    worker.close()


def test_cancel_waits_and_drops_and_errors_reach_the_caller() -> None:
    detector = GatedDetector()
    worker = BackgroundDetection(lag=1)
    worker.start(detector, np.zeros((8, 8, 3), np.uint8), {})
    detector.go.set()
    worker.cancel()
    assert not worker.pending and len(detector.seen) == 1

    class Failing:
        def detect(self, image: np.ndarray) -> list[Detection]:
            raise ValueError("unreadable frame")

    worker.start(Failing(), np.zeros((8, 8, 3), np.uint8), {})
    assert worker.tick()
    with pytest.raises(ValueError, match="unreadable frame"):
        worker.collect({}, 0.3)
    worker.close()
    with pytest.raises(ValueError, match="at least one frame"):
        BackgroundDetection(lag=0)


@pytest.fixture()
def scripted_pipeline(tiny_model: Path, monkeypatch) -> Iterator[tuple[Scripted, list]]:
    script = Scripted()
    monkeypatch.setattr(Network, "predict", lambda self, crops: script.predict(self, crops))
    made = []

    def make(lag: int) -> Pipeline:
        config = PipelineConfig(
            network=NetworkConfig(model=str(tiny_model), backend="torch", device="cpu"),
            tracker=TrackerConfig(detect_every=3),
            motion=MotionGateConfig(enabled=False),
            render=RenderConfig(layers=()),
            detection_lag=lag,
        )
        pipe = Pipeline(config)
        pipe.detector = script
        made.append(pipe)
        return pipe

    yield script, make
    for pipe in made:
        pipe.close()


def newcomer_run(script: Scripted, pipe: Pipeline) -> list[tuple[bool, list[int]]]:
    """One person, then a second one steps in at frame 4 -> per frame (whether the detector
    looked at it, track ids drawn)."""
    script.boxes, script.scores = [PERSON], None
    out = []
    for k in range(12):
        if k == 4:
            script.boxes = [PERSON, NEWCOMER]
        result = pipe.process(FRAME)
        out.append((result.detected, sorted(p.track_id for p in result.people)))
    return out


def test_the_pipeline_finds_a_newcomer_lag_frames_later_the_same_every_run(
    scripted_pipeline,
) -> None:
    script, make = scripted_pipeline
    inline = newcomer_run(script, make(0))
    first = newcomer_run(script, make(2))
    again = newcomer_run(script, make(2))
    assert first == again  # the worker's timing never shows in the results
    # both look at frame 4 (the schedule), which shows the newcomer; seen there, it is
    # confirmed by the run its tentative track asks for on the frame it is born (inline: 5)
    assert inline[4][0] and first[4][0]
    shown_inline = next(k for k, (_, ids) in enumerate(inline) if 2 in ids)
    shown_lagged = next(k for k, (_, ids) in enumerate(first) if 2 in ids)
    assert (shown_inline, shown_lagged) == (5, 7)
    assert all(ids[:1] == [1] for _, ids in first)  # the first person keeps his id throughout
