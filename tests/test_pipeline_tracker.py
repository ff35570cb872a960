"""Tracker: stable ids through a crossing, missed detections, birth / death, detector schedule;
One-Euro smoothing."""

from __future__ import annotations

import numpy as np
import pytest

from meshpose_core.pipeline.smoothing import (
    OneEuroFilter,
    SmoothingConfig,
    carry_to_keypoints,
    smoothing_factor,
)
from meshpose_core.pipeline.tracker import (
    Tracker,
    TrackerConfig,
    associate,
    box_at_scale,
    box_iou,
    box_to_state,
    debiased_box,
    iou_matrix,
    mesh_offset,
    reassociate,
    state_to_box,
)
from meshpose_core.topology import Topology


def box(cx: float, cy: float, side: float) -> np.ndarray:
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def step(tracker: Tracker, boxes: list[np.ndarray]) -> dict[int, np.ndarray]:
    """One frame with detections ``boxes`` (if the tracker asks for them) -> {id: box}."""
    tracker.predict()
    if tracker.needs_detection():
        tracker.update(np.array(boxes).reshape(-1, 4), np.full(len(boxes), 0.9))
    return {t.id: t.box for t in tracker.active()}


def test_box_state_round_trip_and_iou() -> None:
    b = np.array([10.0, 20.0, 50.0, 100.0])
    np.testing.assert_allclose(state_to_box(box_to_state(b)), b)
    iou = iou_matrix([box(0, 0, 10)], [box(0, 0, 10), box(5, 0, 10), box(50, 0, 10)])
    np.testing.assert_allclose(iou[0], [1.0, 1 / 3, 0.0])
    matches, lost, new = associate(np.array([box(0, 0, 10)]), np.array([box(50, 0, 10)]), 0.3)
    assert matches == [] and lost == [0] and new == [0]


def test_ids_survive_a_crossing_with_missed_detections() -> None:
    """Two people walk through each other; around the crossing the detector merges them
    (one detection) or misses both; each keeps its id on the other side."""
    tracker = Tracker(TrackerConfig(detect_every=1, min_hits=2, max_age=8))
    ids_left_walker, ids_right_walker = set(), set()
    for f in range(60):
        a = box(100 + 6 * f, 200, 120)  # walks right
        b = box(460 - 6 * f, 212, 110)  # walks left, slightly lower and smaller
        dets = [a, b]
        if 27 <= f <= 32:  # overlapping: the detector merges them or misses both
            dets = [] if f % 2 else [(a + b) / 2]
        tracks = step(tracker, dets)
        if f >= 2:
            assert len(tracks) == 2, f"frame {f}: {len(tracks)} tracks"
        if f >= 36:  # well after the crossing
            for tid, tb in tracks.items():
                cx = (tb[0] + tb[2]) / 2
                on_a, on_b = abs(cx - (100 + 6 * f)) < 20, abs(cx - (460 - 6 * f)) < 20
                assert on_a != on_b, f"frame {f}: track {tid} at x {cx:.0f}"
                (ids_left_walker if on_a else ids_right_walker).add(tid)
    assert ids_left_walker == {1} and ids_right_walker == {2}


def test_birth_needs_min_hits_and_death_after_max_age() -> None:
    tracker = Tracker(TrackerConfig(detect_every=3, min_hits=2, max_age=5))
    for _ in range(4):  # warm-up: a still image's people show at once
        step(tracker, [box(100, 100, 80)])
    assert [t.id for t in tracker.active()] == [1]
    # a newcomer is shown once confirmed by a second detection (the next frame)
    first = step(tracker, [box(100, 100, 80), box(300, 100, 80)])
    assert set(first) == {1}
    second = step(tracker, [box(100, 100, 80), box(300, 100, 80)])
    assert set(second) == {1, 2}
    # person 2 leaves: it coasts on its prediction for max_age frames, then dies
    alive = [set(step(tracker, [box(100, 100, 80)])) for _ in range(8)]
    assert alive[0] == {1, 2} and alive[-1] == {1}
    assert 2 not in {t.id for t in tracker.tracks}


def test_detector_schedule_and_prediction_between_detections() -> None:
    tracker = Tracker(TrackerConfig(detect_every=3, min_hits=1))
    ran = []
    for f in range(12):
        tracker.predict()
        ran.append(tracker.needs_detection())
        if ran[-1]:
            tracker.update(box(100 + 5 * f, 100, 80)[None], np.array([0.9]))
    assert ran == [True, False, False] * 4
    # between detections the constant-velocity prediction keeps up with the motion
    tracker.predict()
    cx = (tracker.active()[0].box[0] + tracker.active()[0].box[2]) / 2
    assert abs(cx - (100 + 5 * 12)) < 4


def test_mesh_refinement_and_lost_tracks_trigger_detection() -> None:
    tracker = Tracker(TrackerConfig(detect_every=5, min_hits=1))
    tracker.predict()
    tracker.update(box(100, 100, 80)[None], np.array([0.9]))
    tracker.predict()
    assert not tracker.needs_detection()
    tracker.refine(1, box(104, 100, 80), confidence=0.8)  # the first mesh: its offset
    assert abs(box_to_state(tracker.active()[0].box)[0] - 100) < 1e-6
    tracker.predict()
    tracker.refine(1, box(112, 100, 80), confidence=0.8)  # the mesh moved: a correction
    assert abs(box_to_state(tracker.active()[0].box)[0] - 100) > 0.5
    assert not tracker.needs_detection()
    tracker.refine(1, box(400, 100, 80), confidence=0.8)  # far away: lost, re-detect
    assert tracker.needs_detection()


def test_one_euro_removes_jitter_and_smooths_occluded_vertices_more() -> None:
    rng = np.random.default_rng(0)
    filt = OneEuroFilter(SmoothingConfig(strength=1.0))
    vis = np.array([1.0, 0.0])
    truth = np.array([[100.0, 100.0, 0.0], [120.0, 100.0, 0.0]])
    raw, out = [], []
    for _ in range(60):
        x = truth + rng.normal(0, 2.0, truth.shape)
        raw.append(x)
        out.append(filt(x, vis, 1 / 30, scale=200.0))
    raw_err = np.abs(np.array(raw[20:]) - truth).mean(axis=(0, 2))
    out_err = np.abs(np.array(out[20:]) - truth).mean(axis=(0, 2))
    assert (out_err < 0.6 * raw_err).all()
    assert out_err[1] < out_err[0]  # occluded vertex smoothed more strongly
    np.testing.assert_allclose(out[0], raw[0])  # first sample passes through


def test_one_euro_filter_matches_the_formula() -> None:
    """The compiled filter against the One-Euro formula written in numpy, on a noisy moving
    sequence with partial visibility, uneven time steps and a speed-dependent cutoff."""
    cfg = SmoothingConfig(strength=1.5)
    rng = np.random.default_rng(3)
    n = 200
    vis = rng.uniform(-0.2, 1.2, n)  # clipped to [0, 1] by the filter
    filt = OneEuroFilter(cfg)
    ref_x: np.ndarray | None = None
    ref_dx = np.zeros(n)
    for step in range(30):
        x = rng.normal(0, 2.0, (n, 3)) + 5.0 * step * rng.uniform(0, 1, (n, 1))
        dt, scale = 1 / 30 * (1 + 0.5 * (step % 3)), 150.0 + step
        got = filt(x.astype(np.float32), vis, dt, scale)
        if ref_x is None:
            ref_x = x.copy()
        else:
            speed = np.linalg.norm(x - ref_x, axis=1) / (dt * scale)
            ref_dx += smoothing_factor(cfg.d_cutoff_hz, dt) * (speed - ref_dx)
            w = np.clip(vis, 0, 1)
            still = (
                cfg.min_cutoff_hz
                / cfg.strength
                * (cfg.occluded_factor + (1 - cfg.occluded_factor) * w)
            )
            alpha = 1 / (1 + 1 / (2 * np.pi * (still + cfg.beta * ref_dx)) / dt)
            ref_x = ref_x + alpha[:, None] * (x - ref_x)
        np.testing.assert_allclose(got, ref_x, atol=2e-3)


def test_accepted_meshes_keep_a_track_alive_between_scheduled_detections() -> None:
    """Only the schedule runs the detector: the meshes alone keep the track alive for far
    longer than max_age frames without a detection."""
    tracker = Tracker(TrackerConfig(detect_every=30, max_age=5))
    ran, ids, unseen = [], [], []
    for f in range(40):
        person = box(100 + 2 * f, 200, 120)  # walks right
        tracker.predict()
        ran.append(tracker.needs_detection())
        if ran[-1]:
            tracker.update(person[None], np.array([0.9]))
        for t in tracker.tracks:
            unseen.append(t.frames_since_seen)
            tracker.refine(t.id, person, 0.9)
        ids.append([t.id for t in tracker.active()])
    assert [f for f, r in enumerate(ran) if r] == [0, 1, 31]  # birth, confirmation, schedule
    assert ids[1:] == [[1]] * 39
    assert max(unseen) <= 1  # each accepted mesh counts as seeing the person
    assert tracker.tracks[0].frames_since_detection == 40 - 1 - 31
    cx = (tracker.tracks[0].box[0] + tracker.tracks[0].box[2]) / 2
    assert abs(cx - (100 + 2 * 39)) < 4  # and the meshes steered the box


def test_rejected_mesh_then_no_detection_kills_the_track_despite_agreeing_meshes() -> None:
    """A rejected mesh box (far away) asks for the detector at the next frame; when it no
    longer finds the person, later meshes that agree with the (coasting) box do not keep the
    track alive: it dies max_age frames after it was last seen."""
    max_age = 5

    def run(found_after_rejection: bool) -> tuple[list[bool], list[bool]]:
        tracker = Tracker(TrackerConfig(detect_every=30, max_age=max_age))
        person = box(200, 200, 100)
        ran, alive = [], []
        for f in range(20):
            tracker.predict()
            ran.append(tracker.needs_detection())
            if ran[-1]:
                dets = [person] if f <= 4 or found_after_rejection else []
                tracker.update(np.array(dets).reshape(-1, 4), np.full(len(dets), 0.9))
            for t in tracker.tracks:
                if f == 4:
                    tracker.refine(t.id, box(600, 200, 100), 0.9)  # far: rejected
                else:
                    tracker.refine(t.id, t.box, 0.9)  # agrees with the track exactly
            alive.append(any(t.id == 1 for t in tracker.tracks))
        return ran, alive

    ran, alive = run(found_after_rejection=False)
    assert ran[:6] == [True, True, False, False, False, True]  # re-detect right after
    assert all(ran[5:])  # the missed track asks for the detector every frame
    last_seen = 3  # frame of the last accepted mesh
    assert alive == [f <= last_seen + max_age for f in range(20)]  # dies at frame 9

    ran, alive = run(found_after_rejection=True)  # re-detected: it lives on
    assert ran[5] and not any(ran[6:])
    assert all(alive[1:])


def test_without_mesh_refinement_detection_comes_before_a_track_dies() -> None:
    """refine_from_mesh=False and detect_every > max_age: nothing but the detector can see
    the person, so the tracker asks for it when a track is about to die unseen and the
    track lives on as long as the detector finds it."""
    max_age = 5
    tracker = Tracker(TrackerConfig(detect_every=30, max_age=max_age, refine_from_mesh=False))
    ran, ids = [], []
    for f in range(40):
        person = box(150 + f, 200, 120)
        tracker.predict()
        for t in tracker.tracks:
            assert t.frames_since_seen <= max_age, f"frame {f}: track {t.id} unseen too long"
        ran.append(tracker.needs_detection())
        if ran[-1]:
            tracker.update(person[None], np.array([0.9]))
        for t in tracker.tracks:
            tracker.refine(t.id, person, 0.9)  # ignored: refinement is off
        ids.append([t.id for t in tracker.tracks])
    # birth, confirmation, then exactly when frames_since_seen reaches max_age
    assert [f for f, r in enumerate(ran) if r] == [0, 1, *range(1 + max_age, 40, max_age)]
    assert ids == [[1]] * 40
    # the track's last detection was frame 36: refinements did not count as seeing it
    assert tracker.tracks[0].frames_since_seen == 39 - 36


def test_reassociate_matches_where_last_seen_or_where_coasted() -> None:
    cfg = TrackerConfig(reassociate_reach=0.5, lost_growth=0.02, max_reach=1.5)
    seen = np.array([box(100, 100, 50), box(400, 100, 50)])
    coasted = np.array([box(100, 100, 50), box(900, 100, 50)])  # the second ran off unseen
    frames = np.array([0, 0])
    dets = np.array([box(800, 100, 50), box(110, 100, 50), box(404, 98, 50)])
    assert sorted(reassociate(seen, coasted, frames, dets, cfg)) == [(0, 1), (1, 2)]
    # where it coasted to is a candidate too (a panning camera carries the person along)
    near_coasted = box(905, 100, 50)[None]
    assert reassociate(seen[1:], coasted[1:], frames[1:], near_coasted, cfg) == [(0, 0)]
    # the reach grows with the frames unseen (0.5 + 0.02 / frame sides), up to 1.5 sides
    far = box(150, 100, 50)[None]  # 1 side away
    assert reassociate(seen[:1], coasted[:1], np.array([20]), far, cfg) == []
    assert reassociate(seen[:1], coasted[:1], np.array([30]), far, cfg) == [(0, 0)]
    farther = box(180, 100, 50)[None]  # 1.6 sides away
    assert reassociate(seen[:1], coasted[:1], np.array([500]), farther, cfg) == []
    # another size is another person
    assert reassociate(seen[:1], coasted[:1], frames[:1], box(100, 100, 80)[None], cfg) == []
    assert reassociate(seen[:0], coasted[:0], frames[:0], dets, cfg) == []
    # the nearest pairs win
    two = np.array([box(100, 100, 50), box(120, 100, 50)])
    assert sorted(reassociate(two, two, frames, two[::-1], cfg)) == [(0, 1), (1, 0)]


def test_a_person_missed_for_a_while_comes_back_under_their_id() -> None:
    """The detector loses a confirmed person for longer than max_age (the track dies), then
    finds them again near where they were: their id comes back, not a new one; a person
    lost for longer than max_lost_age, or never confirmed, gets a new id."""

    def run(gap: int, confirmed: bool = True) -> list[list[int]]:
        tracker = Tracker(TrackerConfig(detect_every=1, min_hits=2, max_age=5, max_lost_age=30))
        ids = []
        for f in range(60):
            other = box(500, 200, 100)
            present = (f < 10 if confirmed else f == 9) or f >= 10 + gap
            person = [box(200 + f, 200, 100)] if present else []
            ids.append(sorted(step(tracker, [other, *person])))
        return ids

    ids = run(gap=20)
    assert ids[9] == [1, 2] and 2 not in ids[20]  # lost, and not drawn meanwhile
    assert ids[-1] == [1, 2]
    assert run(gap=45)[-1] == [1, 3]  # 40 frames lost > max_lost_age: a new person
    unconfirmed = run(gap=20, confirmed=False)
    assert unconfirmed[-1] == [1, 3]  # seen once only: nothing to come back to


def test_mesh_offset_round_trip_and_motion() -> None:
    state = box_to_state(np.array([100.0, 100.0, 200.0, 300.0]))
    mesh = np.array([110.0, 130.0, 190.0, 280.0])  # shorter, lower, narrower than the box
    offset = mesh_offset(mesh, state)
    np.testing.assert_allclose(debiased_box(mesh, offset), [100, 100, 200, 300], atol=1e-9)
    # the mesh moves by (20, -10): so does the person's box
    moved = debiased_box(mesh + np.array([20.0, -10.0, 20.0, -10.0]), offset)
    np.testing.assert_allclose(moved, [120, 90, 220, 290], atol=1e-9)
    # the mesh grows 2x about its centre: the box grows 2x, its centre shift in proportion
    grown = debiased_box(np.array([70.0, 55.0, 230.0, 355.0]), offset)
    np.testing.assert_allclose(box_to_state(grown)[2:], state[2:] * [2, 1], rtol=1e-9)
    np.testing.assert_allclose(box_to_state(grown)[:2], [150, 205 - 2 * 5], atol=1e-9)


def test_a_biased_mesh_does_not_drag_a_still_persons_box() -> None:
    """The network draws a still person's mesh shorter and lower than the detector's box,
    in whatever crop it gets (a bias of its own): the track keeps the detector's box, where
    fusing the mesh boxes as they are moved it frame after frame."""

    def run(relative: bool) -> np.ndarray:
        """(20, 4) the track's box after each frame."""
        tracker = Tracker(TrackerConfig(detect_every=30, mesh_relative=relative))
        person = box(200, 200, 100)
        boxes = []
        for _ in range(20):
            tracker.predict()
            if tracker.needs_detection():
                tracker.update(person[None], np.array([0.9]))
            for t in tracker.tracks:  # the mesh: 0.8 of the crop box, 10 % of it lower
                cx, cy, s, _ = box_to_state(t.box)
                tracker.refine(t.id, box(cx, cy + 0.1 * s, 0.8 * s), 0.9)
            assert [t.id for t in tracker.tracks] == [1]  # one person, one track
            boxes.append(tracker.tracks[0].box)
        return np.array(boxes)

    np.testing.assert_allclose(run(relative=True), np.tile(box(200, 200, 100), (20, 1)), atol=1.0)
    # fused as they are, the meshes drag the box off until it is lost and detected again
    drifted = np.array([box_to_state(b) for b in run(relative=False)])
    assert drifted[:, 2].min() < 70 and drifted[:, 1].max() > 215


def test_a_weak_detection_starts_a_track_only_once_its_mesh_vets_it() -> None:
    cfg = TrackerConfig(confident_score=0.4, weak_min_visibility=0.42)
    tracker = Tracker(cfg)
    tracker.predict()
    tracker.update(np.array([box(100, 100, 80), box(300, 100, 80)]), np.array([0.9, 0.25]))
    # the strong one is shown at once (first frames); the weak one waits for its mesh
    assert [t.id for t in tracker.active()] == [1]
    assert [t.id for t in tracker.unvetted()] == [2]
    assert not tracker.vet(2, visibility=0.41)  # not person-like enough: the caller drops it
    assert tracker.vet(2, visibility=0.42)
    assert [t.id for t in tracker.active()] == [1, 2] and tracker.unvetted() == []


def test_a_weak_detection_of_a_known_person_needs_no_vetting() -> None:
    tracker = Tracker(TrackerConfig(confident_score=0.4))
    for score in (0.9, 0.9, 0.2, 0.2):  # the person's score drops: still matched, still shown
        tracker.predict()
        tracker.update(box(100, 100, 80)[None], np.array([score]))
    assert [t.id for t in tracker.active()] == [1] and tracker.unvetted() == []
    tracker.predict()
    tracker.update(box(300, 100, 80)[None], np.array([0.2]))  # a weak newcomer
    tracker.predict()
    tracker.update(box(300, 100, 80)[None], np.array([0.5]))  # scored confidently: vetted
    assert tracker.unvetted() == []


def test_a_rejected_weak_detection_is_not_meshed_again_on_the_same_spot() -> None:
    tracker = Tracker(TrackerConfig(confident_score=0.4, rejected_runs=2))
    spot = box(300, 100, 80)[None]
    tracker.predict()
    tracker.update(spot, np.array([0.25]))
    (weak,) = tracker.unvetted()
    tracker.reject_weak(weak.id)  # its mesh did not vet it
    assert tracker.tracks == []
    tracker.predict()
    tracker.update(box(304, 102, 80)[None], np.array([0.3]))  # weak, same spot: skipped
    assert tracker.tracks == []
    tracker.predict()
    tracker.update(box(100, 100, 80)[None], np.array([0.25]))  # weak elsewhere: a new look
    assert len(tracker.unvetted()) == 1
    tracker.reset()
    tracker.predict()
    tracker.update(spot, np.array([0.25]))
    tracker.reject_weak(tracker.unvetted()[0].id)
    tracker.predict()
    tracker.update(spot, np.array([0.9]))  # a confident detection there is always taken
    assert [t.score for t in tracker.tracks] == [0.9]
    for _ in range(2):  # the memory lasts rejected_runs detector runs
        tracker.predict()
        tracker.update(np.zeros((0, 4)), np.zeros(0))
    tracker.tracks.clear()
    tracker.predict()
    tracker.update(spot, np.array([0.25]))
    assert len(tracker.unvetted()) == 1


def test_smoothing_moves_the_body_keypoints_with_the_mesh() -> None:
    """Keypoints come from the body; the mesh drawn may be the widened outline: the
    smoother's correction moves them, its mesh's own keypoints do not replace them."""
    topo = Topology.load("low")
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 100, (topo.num_vertices, 3))
    body_kp = np.c_[rng.uniform(0, 100, (17, 2)), np.full(17, 0.9)]  # not the mesh's own
    np.testing.assert_allclose(carry_to_keypoints(body_kp, raw, raw, topo), body_kp)
    shifted = raw + np.array([3.0, -2.0, 5.0])
    moved = carry_to_keypoints(body_kp, raw, shifted, topo)
    np.testing.assert_allclose(moved[:, :2], body_kp[:, :2] + np.array([3.0, -2.0]), atol=1e-9)
    np.testing.assert_array_equal(moved[:, 2], body_kp[:, 2])


def test_box_iou_matches_iou_matrix() -> None:
    rng = np.random.default_rng(6)
    for _ in range(50):
        a, b = (box(*rng.uniform(20, 80, 2), rng.uniform(1, 40)) for _ in range(2))
        assert box_iou(a, b) == pytest.approx(iou_matrix(a, b)[0, 0], abs=1e-12)
    assert box_iou(box(0, 0, 10), box(100, 100, 10)) == 0.0


def test_a_track_whose_box_grew_off_its_person_takes_the_next_detection_under_its_id() -> None:
    """A close-up's mesh guesses the body below the frame, and the guess grew the track's box
    and sank its centre until no detection of the person overlapped it (IoU < 0.3): the
    detection where the person was last detected, at their detected size, restarts the
    track (the last seen box's centre has sunk too far: over half a side); a second
    person's detection elsewhere still starts a track of their own."""
    tracker = Tracker(TrackerConfig(detect_every=30, min_hits=1))
    person = box(300, 300, 200)
    tracker.predict()
    tracker.update(person[None], np.array([0.9]))
    track = tracker.tracks[0]
    tracker.refine(track.id, person, 0.9)  # the first mesh: on the person
    for k in range(1, 25):  # then each drawn larger and lower, within 2x of the detection
        side = 200 * min(1.06**k, 1.9)
        tracker.predict()
        assert tracker.refine(track.id, box(300, 300 + 0.6 * (side - 200), side), 0.9)
    assert box_iou(track.box, person) < 0.3
    other = box(900, 300, 200)
    tracker.predict()
    tracker.update(np.stack([person, other]), np.array([0.9, 0.9]))
    assert [t.id for t in tracker.tracks] == [1, 2]
    np.testing.assert_allclose(tracker.tracks[0].box, person, atol=1e-6)  # restarted there
    np.testing.assert_allclose(tracker.tracks[1].box, other, atol=1e-6)
    assert not tracker.tracks[0].missed and tracker.tracks[0].hits == 2


def test_box_at_scale_keeps_centre_and_aspect() -> None:
    out = box_at_scale(np.array([0.0, 0.0, 100.0, 400.0]), 100.0)  # sqrt(100 * 400) = 200
    np.testing.assert_allclose(out, [25.0, 100.0, 75.0, 300.0])
