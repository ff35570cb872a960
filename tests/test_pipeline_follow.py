"""Crops that follow the body and one mesh per person, through ``Pipeline.process`` with a
scripted detector and network (what they return is chosen here; every other stage is real):
after the first frame a track's crop comes from its own previous mesh (turned with a tilted
body), a second mesh on one person or a broken mesh is not drawn, a detection matched
to a mesh-steered track confirms it without moving its box, and a weak detection is drawn
only when its mesh is visible enough, else dropped in the same frame."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from meshpose_core.detection import Detection
from meshpose_core.pipeline import NetworkConfig, Pipeline, PipelineConfig, RenderConfig
from meshpose_core.pipeline.mesh_guard import MeshGuardConfig, accepted_meshes, duplicate_meshes
from meshpose_core.pipeline.motion import MotionGate, MotionGateConfig
from meshpose_core.pipeline.network import Network
from meshpose_core.pipeline.tracker import Tracker, TrackerConfig, agree_in_view, in_view
from meshpose_core.predictor import Prediction
from meshpose_core.topology import Topology

FRAME = np.zeros((240, 320, 3), np.uint8)
LOW, HIGH = Topology.load("low"), Topology.load("high")


def place(v: np.ndarray, size: tuple[int, int], lying: bool) -> np.ndarray:
    """The rest template 0.7 of the crop tall, centred, upright or lying with its head on the
    crop's right (its up along +x)."""
    k = 0.7 * size[0] / np.ptp(HIGH.vertices[:, 1])
    mid = (HIGH.vertices[:, 1].max() + HIGH.vertices[:, 1].min()) / 2
    across, up = v[:, 0] * k, (v[:, 1] - mid) * k
    x, y = (
        (size[1] / 2 + up, size[0] / 2 + across)
        if lying
        else (size[1] / 2 + across, size[0] / 2 - up)
    )
    return np.stack([x, y, -v[:, 2] * k], 1).astype(np.float32)


class Scripted:
    """Detections and per-crop meshes chosen by the test."""

    def __init__(self) -> None:
        self.boxes: list[np.ndarray] = []
        self.lying = False
        self.pull: float = 0.0  # crop px one hand vertex is pulled right (a broken mesh)
        self.scores: list[float] | None = None  # per box (default 0.9, 0.89, ...)
        self.visibility: list[float] | None = None  # per crop, in the batch's order (default 1)
        self.detector_runs = 0
        self.grow = 1.0  # the body below the head drawn this many times larger (a guess)

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.detector_runs += 1
        scores = self.scores or [0.9 - 0.01 * i for i in range(len(self.boxes))]
        return [Detection(box=b, score=s) for b, s in zip(self.boxes, scores, strict=True)]

    def predict(self, network: Network, crops: np.ndarray) -> tuple[Prediction, float, float]:
        n, size = len(crops), network.input_size
        low = place(LOW.vertices, size, self.lying)
        high = place(HIGH.vertices, size, self.lying)
        head = np.array([size[1] / 2, low[:, 1].min()], np.float32)
        for v in (low, high):
            v[:, :2] = head + (v[:, :2] - head) * self.grow
        low[np.argmax(LOW.vertices[:, 0]), 0] += self.pull
        keypoints = np.concatenate([LOW.keypoints(low)[:17, :2], np.ones((17, 1))], 1)
        pred = Prediction(
            vertices=np.repeat(low[None], n, 0),
            visibility=np.repeat(
                np.array(self.visibility or [1.0] * n, np.float32)[:n, None], 518, 1
            ),
            vertices_high=np.repeat(high[None], n, 0),
            keypoints=np.repeat(keypoints[None].astype(np.float32), n, 0),
        )
        return pred, 0.0, 0.0


@pytest.fixture()
def scripted(tiny_model: Path, monkeypatch) -> Iterator[tuple[Pipeline, Scripted]]:
    script = Scripted()
    monkeypatch.setattr(Network, "predict", lambda self, crops: script.predict(self, crops))
    config = PipelineConfig(
        network=NetworkConfig(model=str(tiny_model), backend="torch", device="cpu", threads=1),
        tracker=TrackerConfig(detect_every=100),
        render=RenderConfig(layers=()),
    )
    with Pipeline(config) as pipe:
        pipe.detector = script
        yield pipe, script


def crop_rotation(crop_to_image: np.ndarray) -> float:
    """The turn of a crop -> image affine (radians, a RotatedRoi's rotation)."""
    return math.atan2(crop_to_image[1, 0], crop_to_image[0, 0])


def test_next_crop_comes_from_the_previous_mesh_turned_with_the_body(scripted) -> None:
    pipe, script = scripted
    script.boxes = [np.array([100.0, 60.0, 200.0, 160.0])]
    script.lying = True  # the network sees a body lying with its head to the right
    first = pipe.process(FRAME)
    assert len(first.people) == 1 and abs(crop_rotation(first.people[0].crop_to_image)) < 1e-9
    (track,) = pipe.tracker.tracks
    assert track.steered and track.crop_rotation == pytest.approx(math.pi / 2, abs=1e-3)
    # frame 1's mesh (lying, image px) set the box: centre and size of its extent
    lo, hi = first.people[0].vertices[:, :2].min(0), first.people[0].vertices[:, :2].max(0)
    np.testing.assert_allclose((track.box[:2] + track.box[2:]) / 2, (lo + hi) / 2 + 0.5, atol=1)
    second = pipe.process(FRAME)  # the detector confirms the track
    assert second.detected and len(second.people) == 1
    assert crop_rotation(second.people[0].crop_to_image) == pytest.approx(math.pi / 2, abs=1e-3)
    centre = second.people[0].crop_to_image @ [31.5, 31.5, 1]  # the 64 px crop's centre
    np.testing.assert_allclose(centre, (lo + hi) / 2 + 0.5, atol=2)


def test_upright_bodies_keep_upright_crops(scripted) -> None:
    pipe, script = scripted
    script.boxes = [np.array([100.0, 60.0, 200.0, 160.0])]
    for _ in range(3):
        result = pipe.process(FRAME)
        assert crop_rotation(result.people[0].crop_to_image) == 0.0


def test_two_tracks_on_one_person_draw_one_mesh(scripted) -> None:
    pipe, script = scripted
    # two boxes on one person (same centre, IoU 0.83): two tracks, one body in both crops
    script.boxes = [np.array([100.0, 60.0, 200.0, 160.0]), np.array([95.0, 55.0, 205.0, 165.0])]
    result = pipe.process(FRAME)
    assert [p.track_id for p in result.people] == [1]
    assert [t.id for t in pipe.tracker.tracks] == [1]


def test_a_broken_mesh_is_not_drawn_and_its_track_is_detected_again(scripted) -> None:
    pipe, script = scripted
    script.boxes = [np.array([100.0, 60.0, 200.0, 160.0])]
    script.pull = 40.0  # one hand 40 crop px (~0.9 body heights) away from the body
    result = pipe.process(FRAME)
    assert result.people == []
    assert pipe.tracker.tracks[0].missed and pipe.tracker.tracking_uncertain()
    script.pull = 0.0
    assert len(pipe.process(FRAME).people) == 1


@pytest.mark.parametrize("close_up", [True, False])
def test_a_mesh_guessed_larger_beyond_the_frame_is_still_drawn(scripted, close_up) -> None:
    """A close-up's body below the frame is a guess that changes size from frame to frame:
    drawn twice as large, the tracker does not steer with it (and detects again), but the
    part in view lies on the person, so it is drawn. A body the frame does not cut, drawn
    twice as large, is not."""
    pipe, script = scripted
    side = 400.0 if close_up else 100.0  # the frame is 320 x 240
    script.boxes = [np.array([160 - side / 2, 20.0, 160 + side / 2, 20 + side])]
    assert len(pipe.process(FRAME).people) == 1
    script.grow = 2.5
    result = pipe.process(FRAME)
    (track,) = pipe.tracker.tracks
    assert track.missed and not track.steered  # not steered by it: detected again
    assert [p.track_id for p in result.people] == ([1] if close_up else [])


def test_agree_in_view_compares_the_parts_the_frame_shows() -> None:
    frame = (320, 240)
    np.testing.assert_allclose(in_view(np.array([-40.0, 20, 360, 420]), frame), [0, 20, 320, 240])
    np.testing.assert_allclose(in_view(np.array([400.0, 20, 500, 80]), frame), [320, 20, 320, 80])
    small, big = np.array([-40.0, 20, 360, 420]), np.array([-320.0, 0, 640, 960])
    assert agree_in_view(small, big, frame, 0.5)  # 2.4x apart, the same in view
    assert not agree_in_view(small, np.array([200.0, 150, 600, 550]), frame, 0.5)
    inside = np.array([100.0, 50, 200, 150])
    assert not agree_in_view(inside, inside, frame, 0.5)  # nothing cut: not this rule's case


def test_a_matching_detection_confirms_a_steered_track_without_moving_it() -> None:
    """With ``mesh_steers`` (off by default) a detection that agrees with a mesh-steered
    track (IoU >= steer_iou) only confirms it; one that disagrees, or any after the track
    was lost, sets its box."""
    tracker = Tracker(TrackerConfig(mesh_steers=True))
    box = np.array([100.0, 100.0, 200.0, 200.0])
    tracker.predict()
    tracker.update(box[None], np.array([0.9]))
    tracker.refine(1, box, confidence=0.9)  # mesh accepted: the track is steered by it
    (track,) = tracker.tracks
    assert track.steered
    before = track.box.copy()
    tracker.update((box + np.array([10.0, 0, 10, 0]))[None], np.array([0.9]))  # IoU 0.82
    np.testing.assert_allclose(track.box, before)
    assert track.frames_since_detection == 0 and not track.missed
    tracker.update((box + np.array([30.0, 0, 30, 0]))[None], np.array([0.9]))  # IoU 0.54
    assert track.box[0] > before[0] + 5  # drifted from its person: re-anchored
    moved = track.box.copy()
    tracker.reject(1)  # lost: the next detection sets the box again
    assert not track.steered and track.missed
    tracker.update((moved + np.array([10.0, 0, 10, 0]))[None], np.array([0.9]))
    assert track.box[0] > moved[0] + 2


def test_duplicate_and_broken_rules_on_hand_made_meshes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 0, 30, 10], [0.5, 0, 10.5, 10]])
    np.testing.assert_array_equal(duplicate_meshes(boxes, 0.7), [False, True, False, True])
    body = LOW.vertices * 300.0
    pulled = body.copy()
    pulled[np.argmax(body[:, 0]), 0] += 250.0
    meshes = np.stack([body, pulled, body + np.array([200.0, 0, 0])])
    mesh_boxes = np.array([[-100, 0, 100, 300], [-100, 0, 100, 300], [100, 0, 300, 300]], float)
    broken, duplicate = accepted_meshes(meshes, mesh_boxes, MeshGuardConfig())
    np.testing.assert_array_equal(broken, [False, True, False])
    np.testing.assert_array_equal(duplicate, [False, False, False])  # broken: not compared
    off: Callable = accepted_meshes
    assert not off(meshes, mesh_boxes, MeshGuardConfig(enabled=False))[0].any()


WEAK_PAIR = [np.array([20.0, 60.0, 120.0, 160.0]), np.array([180.0, 60.0, 280.0, 160.0])]


def test_a_weak_detection_is_drawn_only_when_its_mesh_vets_it(scripted) -> None:
    pipe, script = scripted
    script.boxes, script.scores = WEAK_PAIR, [0.9, 0.2]  # 0.2: below confident_score
    script.visibility = [1.0, 0.3]  # the weak one's mesh: not person-like
    result = pipe.process(FRAME)
    assert [p.track_id for p in result.people] == [1]
    assert [t.id for t in pipe.tracker.tracks] == [1] and pipe.rejected["weak"] == 1
    pipe.reset()
    script.visibility = [1.0, 0.9]  # a visible body: drawn with the first frame's people
    assert [p.track_id for p in pipe.process(FRAME).people] == [1, 2]


def test_a_rejected_weak_newcomer_costs_no_detector_run(scripted) -> None:
    pipe, script = scripted
    pipe.tracker.config = replace(pipe.tracker.config, detect_every=3)
    pipe.motion = MotionGate(MotionGateConfig(enabled=False))  # every scheduled run runs
    script.boxes = WEAK_PAIR[:1]
    for _ in range(3):  # the person is confirmed; the detector then waits for its schedule
        pipe.process(FRAME)
    assert not pipe.tracker.needs_detection()
    script.boxes, script.scores, script.visibility = WEAK_PAIR, [0.9, 0.2], [1.0, 0.3]
    ran = [pipe.process(FRAME).detected for _ in range(5)]
    assert ran == [False, True, False, False, True]  # the schedule, no run to confirm it
    # the second run's weak detection is on the remembered spot: not meshed again
    assert [t.id for t in pipe.tracker.tracks] == [1] and pipe.rejected["weak"] == 1
