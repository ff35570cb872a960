"""Motion-gated detection: a scheduled detector run is skipped only while nothing moved
outside the tracked people, at most ``max_skips`` times in a row; a newcomer in a still
scene is found at the same frame as without the gate, with fewer detector runs before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meshpose_core.pipeline import Pipeline, PipelineConfig, RenderConfig
from meshpose_core.pipeline.motion import (
    MotionGate,
    MotionGateConfig,
    thumbnail,
    tracked_mask,
)
from meshpose_core.pipeline.sources import Frame, read_image
from meshpose_core.pipeline.tracker import Tracker, TrackerConfig

REPO = Path(__file__).resolve().parents[1]
STREET = REPO / "assets" / "test_images" / "coco_000000252219_street.jpg"


def scene(seed: int = 0) -> np.ndarray:
    """A textured 480 x 640 RGB frame (sensor-like noise on smooth shading)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:480, 0:640]
    base = 80 + 60 * np.sin(x / 40.0) * np.cos(y / 55.0)
    noise = rng.normal(0, 3, (480, 640, 1))
    return np.clip(base[..., None] + noise + [0, 10, 20], 0, 255).astype(np.uint8)


def test_thumbnail_averages_cells_of_the_grey_frame() -> None:
    image = np.zeros((17, 33, 3), np.uint8)
    image[:8, :8] = 200
    thumb = thumbnail(image, 8)
    assert thumb.shape == (2, 4) and thumb.dtype == np.float32
    assert thumb[0, 0] == pytest.approx(200, abs=1) and thumb[1, 1] == 0
    assert thumbnail(image[..., 0], 1).shape == (17, 33)


def test_tracked_mask_covers_enlarged_boxes_clipped_to_the_frame() -> None:
    free = tracked_mask((60, 80), [np.array([80.0, 80.0, 160.0, 240.0])], 8, 1.5)
    # box centre (120, 160), 120 x 240 px once enlarged: columns 60..180, rows 40..280 px
    assert not free[5:35, 7:23].any()
    assert free[:, :7].all() and free[:, 23:].all() and free[35:].all()
    edge = tracked_mask((60, 80), [np.array([-50.0, -50.0, 20.0, 20.0])], 8, 1.0)
    assert not edge[0, 0] and edge[3:, 3:].all()


def test_gate_skips_a_still_scene_up_to_max_skips() -> None:
    gate = MotionGate(MotionGateConfig(max_skips=2))
    frame, box = scene(0), np.array([200.0, 100.0, 400.0, 450.0])
    assert not gate.allows_skip(frame, [box])  # nothing remembered yet: run
    gate.remember(frame)
    # new sensor noise, same scene
    assert gate.allows_skip(scene(1), [box]) and gate.allows_skip(scene(2), [box])
    assert not gate.allows_skip(scene(3), [box])  # two skipped in a row: run now
    gate.remember(scene(3))
    assert gate.allows_skip(scene(4), [box])


def test_motion_outside_the_tracked_people_wakes_the_detector() -> None:
    gate = MotionGate()
    box = np.array([200.0, 100.0, 400.0, 450.0])
    gate.remember(scene(0))
    inside = scene(1)
    inside[150:400, 250:350] = 255  # the tracked person moves: no newcomer
    assert gate.allows_skip(inside, [box])
    outside = scene(2)
    outside[200:420, 560:620] = 255  # someone walks in at the right edge
    assert not gate.allows_skip(outside, [box])
    assert not gate.allows_skip(outside, [])  # nobody tracked: everything counts


def test_light_change_frame_size_and_disabled_gate_run_the_detector() -> None:
    gate = MotionGate()
    gate.remember(scene(0))
    assert not gate.allows_skip(np.clip(scene(1).astype(int) + 40, 0, 255).astype(np.uint8), [])
    assert not gate.allows_skip(scene(1)[:240, :320], [])
    off = MotionGate(MotionGateConfig(enabled=False))
    off.remember(scene(0))
    assert not off.allows_skip(scene(0), [])
    with pytest.raises(ValueError):
        MotionGate(MotionGateConfig(cells=0))


def test_tracker_tells_scheduled_from_uncertain_runs_and_postpones() -> None:
    tracker = Tracker(TrackerConfig(detect_every=5, min_hits=2))
    person = np.array([[100.0, 100.0, 200.0, 300.0]])
    tracker.predict()
    assert tracker.tracking_uncertain() and not tracker.detection_scheduled()
    tracker.postpone_detection()  # never ran: nothing to postpone
    assert tracker.tracking_uncertain()
    for _ in range(2):  # birth, then confirmation
        tracker.update(person, np.array([0.9]))
        tracker.predict()
    for _ in range(3):
        assert not tracker.needs_detection()
        tracker.refine(1, person[0], 0.9)
        tracker.predict()
    tracker.refine(1, person[0], 0.9)
    tracker.predict()
    assert tracker.detection_scheduled() and not tracker.tracking_uncertain()
    tracker.postpone_detection()
    assert not tracker.needs_detection()


def run_clip(frames: list[np.ndarray], gate: bool) -> tuple[list[int], dict[int, int]]:
    """-> (frames the detector ran on, first frame of each track id)."""
    config = PipelineConfig(render=RenderConfig(layers=()), motion=MotionGateConfig(enabled=gate))
    ran, first = [], {}
    with Pipeline(config) as pipe:
        for i, image in enumerate(frames):
            result = pipe.infer(Frame(image, i / 30.0, i))
            if result.detected:
                ran.append(i)
            for p in result.people:
                first.setdefault(p.track_id, i)
    return ran, first


def test_a_newcomer_in_a_still_scene_is_found_as_soon_as_without_the_gate() -> None:
    """The street photo with its left person hidden behind a wall, who steps out at frame
    20: with the shipped model the gate skips the still frames' scheduled run (frame 16)
    and finds the newcomer at the next one (31), as the schedule alone does."""
    street = read_image(STREET)
    hidden = street.copy()
    hidden[:, :165] = hidden[:, :165].mean(axis=(0, 1)).astype(np.uint8)
    frames = [hidden] * 20 + [street] * 16
    ran_always, first_always = run_clip(frames, gate=False)
    ran_gated, first_gated = run_clip(frames, gate=True)
    assert len(first_always) >= 3, "the street photo's three people are tracked"
    assert sorted(first_gated.values()) == sorted(first_always.values())
    assert max(first_gated.values()) >= 20  # the newcomer, found after stepping out
    assert 16 in ran_always and 16 not in ran_gated
    assert 31 in ran_gated
