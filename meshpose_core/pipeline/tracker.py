"""Multi-person tracking: one Kalman filter per person, Hungarian IoU association (SORT-like).

The detector is the costliest way to find a person; between its runs every box comes from
the track's constant-velocity Kalman prediction, corrected by the box of the mesh the network
just predicted inside it (as MediaPipe turns landmarks into the next frame's ROI). The
detector runs every ``detect_every`` frames, and at once whenever tracking is uncertain: no
confirmed track, a tentative one waiting for confirmation, a track that missed its last
detection or whose mesh box disagreed with its prediction, a track about to die unseen, or a
track that died. A scheduled run can be postponed (``postpone_detection``) when nothing new
can be found: the pipeline does so while nothing moves outside the tracked people
(``motion.py``); uncertain tracking is never postponed.

State per track: box centre x, y, scale s = sqrt(w * h), aspect r = w / h and their
velocities per frame. Noise scales with s, so behaviour is the same for near and far people.

A confirmed track that dies unseen is not forgotten at once: it waits ``max_lost_age`` frames
in a lost pool (not shown, not making the detector run). A detection matching no live track
is first offered to the lost tracks (``reassociate``: near where the person was last seen, or
where the prediction coasted to, within a reach growing with the time lost, of a similar
size) and revives the person's id instead of starting a new one: a person the detector misses
for a while, or who is hidden behind someone, comes back under the same id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from filterpy.kalman import KalmanFilter
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class TrackerConfig:
    # frames between scheduled detector runs (1: every frame); between them the meshes steer
    # the boxes (measured on 3 clips: 30 keeps every track, keypoints within 2 % of the
    # person's size of detecting every frame); 15 finds newcomers within half a second
    detect_every: int = 15
    iou_threshold: float = 0.3  # min IoU of a detection with a predicted box to match it
    min_hits: int = 2  # detections before a new track is shown (birth)
    # a detection scoring below this (a weak one: the detector keeps lower scores, to find
    # the people it is unsure of) starts a track only once its first mesh, predicted in the
    # frame it is detected, looks like a person: mean vertex visibility at least
    # ``weak_min_visibility`` (``Tracker.vet``); one that does not is dropped at once, so a
    # weak false detection costs a crop, not a detector run. Figures: docs/pipeline.md
    confident_score: float = 0.4
    weak_min_visibility: float = 0.42
    # detector runs a weak detection that failed its mesh check is remembered: a weak
    # detection on the same spot (IoU >= ``iou_threshold``) starts no track meanwhile (in a
    # crowd the same false one came back at every run, a network crop each time); 0: off
    rejected_runs: int = 4
    # frames without evidence (a matching detection, or a mesh the tracker accepted since
    # the detector last confirmed the track) before a track dies
    max_age: int = 10
    max_tracks: int = 10  # people followed at most (the oldest tracks are kept)
    # frames a confirmed track that died unseen waits to be found again under its id
    max_lost_age: int = 60
    # a detection revives a lost track when its centre lies within this many of the lost
    # box's sides of where it was (0.5: about the reach of the live matching's IoU 0.3),
    # plus ``lost_growth`` sides per frame unseen, at most ``max_reach``; and its size is
    # within ``reassociate_scale`` times the lost box's
    reassociate_reach: float = 0.5
    lost_growth: float = 0.02
    max_reach: float = 1.5
    reassociate_scale: float = 1.5
    refine_from_mesh: bool = True  # correct boxes with the predicted mesh between detections
    # True: a track whose last mesh was accepted keeps its mesh-steered box when a detection
    # matches it closely (IoU >= steer_iou: the detection only confirms it), so detector boxes
    # only start, recover and re-anchor tracks. Off by default: on 4 clips it made as many
    # track ids as fusing every matching detection (14/7/4/1 vs 13/6/4/1 in 60 frames), and a
    # mesh biased by a few px a frame then drifts the box (Kalman velocity) until the person
    # is lost and found again under a new id; fused detections stop that drift
    mesh_steers: bool = False
    steer_iou: float = 0.7
    mesh_box_scale: float = 1.1  # detector box side / mesh extent (measured ~1.1-1.2)
    # correct with mesh boxes less their offset from the box at the last detection (the
    # first mesh after it): meshes steer how the person moves, detections where they are.
    # A mesh sits off its person by a bias of its own (a body drawn shorter, lower, turned),
    # and fused as it is, that bias moved each next crop: on still photos pipeline recall fell
    # from 0.625 to 0.54 in five frames; False fuses mesh boxes as they are
    mesh_relative: bool = True
    min_refine_iou: float = 0.3  # a mesh box further than this from the prediction: lost
    min_mesh_confidence: float = 0.2  # mean keypoint score below this: lost
    # a mesh box this many times smaller or larger than the person's box at their last
    # detection: lost (stops a mesh shrinking frame after frame onto nothing)
    max_mesh_scale_change: float = 2.0
    position_noise: float = 0.05  # detection centre std / s
    scale_noise: float = 0.05  # detection scale std / s
    mesh_noise: float = 0.08  # mesh box std / s (centre and scale)
    motion_noise: float = 0.02  # per-frame velocity change std / s
    aspect_noise: float = 0.01


def box_to_state(box: np.ndarray) -> np.ndarray:
    """(4,) x0, y0, x1, y1 -> (4,) cx, cy, s = sqrt(w h), r = w / h."""
    w, h = max(box[2] - box[0], 1e-3), max(box[3] - box[1], 1e-3)
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, np.sqrt(w * h), w / h])


def state_to_box(z: np.ndarray) -> np.ndarray:
    """(>=4,) cx, cy, s, r, ... -> (4,) x0, y0, x1, y1."""
    cx, cy, s, r = (float(v) for v in z[:4])
    s, r = max(s, 1.0), max(r, 1e-3)
    w, h = s * np.sqrt(r), s / np.sqrt(r)
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4), (M, 4) boxes -> (N, M) intersection over union."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=-1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=-1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def associate(
    track_boxes: np.ndarray, det_boxes: np.ndarray, iou_threshold: float
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Hungarian assignment maximising total IoU of ``track_boxes`` (N, 4) and ``det_boxes``
    (M, 4) (x0, y0, x1, y1 image px); pairs below the threshold are rejected.

    Returns (matches as (track, detection) index pairs, unmatched tracks, unmatched
    detections).
    """
    n, m = len(track_boxes), len(det_boxes)
    if n == 0 or m == 0:
        return [], list(range(n)), list(range(m))
    iou = iou_matrix(track_boxes, det_boxes)
    rows, cols = linear_sum_assignment(-iou)
    matches = [(r, c) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= iou_threshold]
    matched_t = {r for r, _ in matches}
    matched_d = {c for _, c in matches}
    return (
        matches,
        [i for i in range(n) if i not in matched_t],
        [j for j in range(m) if j not in matched_d],
    )


def reassociate(
    seen_boxes: np.ndarray,
    coasted_boxes: np.ndarray,
    frames_unseen: np.ndarray,
    det_boxes: np.ndarray,
    cfg: TrackerConfig,
    also: np.ndarray | None = None,
) -> list[tuple[int, int]]:
    """Lost tracks' boxes where last seen (L, 4) and where their prediction coasted to before
    they died (L, 4), frames unseen (L,), unmatched detections (D, 4) -> (lost, detection)
    pairs. Hungarian on the distance of each detection's centre from the nearer of the two
    box centres, in the lost box's sides (sqrt(w h)); a pair is kept within ``reassociate_reach``
    sides plus ``lost_growth`` per frame unseen (the person may have moved; at most
    ``max_reach``) and when their sizes differ by less than ``reassociate_scale`` times.
    Either place can be right: a panning camera carries the people with it (the coasted
    box), a person the detector misses may stand still (the seen box). ``also`` (L, 4):
    a third place per track, e.g. where it was last detected."""
    if len(seen_boxes) == 0 or len(det_boxes) == 0:
        return []
    seen, coasted = np.asarray(seen_boxes, float), np.asarray(coasted_boxes, float)
    dets = np.asarray(det_boxes, float)
    side = np.sqrt(np.prod(seen[:, 2:] - seen[:, :2], axis=1)).clip(1e-3)[:, None]  # (L, 1)
    det_centre = ((dets[:, :2] + dets[:, 2:]) / 2)[None]  # (1, D, 2)
    places = (seen, coasted) if also is None else (seen, coasted, np.asarray(also, float))
    dist = np.min(
        [np.linalg.norm(((b[:, :2] + b[:, 2:]) / 2)[:, None] - det_centre, axis=-1)
         for b in places], axis=0,
    ) / side  # fmt: skip
    det_side = np.sqrt(np.prod(dets[:, 2:] - dets[:, :2], axis=1)).clip(1e-3)[None]
    ratio = np.maximum(det_side / side, side / det_side)
    reach = np.minimum(
        cfg.reassociate_reach + cfg.lost_growth * np.asarray(frames_unseen, float), cfg.max_reach
    )[:, None]
    allowed = (dist <= reach) & (ratio < cfg.reassociate_scale)
    rows, cols = linear_sum_assignment(np.where(allowed, dist, 1e6))
    return [(r, c) for r, c in zip(rows, cols, strict=True) if allowed[r, c]]


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (4,) boxes x0, y0, x1, y1: ``iou_matrix`` of one pair without its array
    set-up (~1 µs against ~15), for the one pair per person and frame the tracker compares."""
    ax0, ay0, ax1, ay1 = (float(v) for v in a)
    bx0, by0, bx1, by1 = (float(v) for v in b)
    inter = max(min(ax1, bx1) - max(ax0, bx0), 0.0) * max(min(ay1, by1) - max(ay0, by0), 0.0)
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / max(union, 1e-9)


def in_view(box: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """(4,) x0, y0, x1, y1 image px -> (4,) its part inside a (W, H) frame (empty boxes
    collapse onto the frame's edge)."""
    w, h = frame_size
    lo = np.clip(np.asarray(box[:2], float), 0.0, [w, h])
    return np.concatenate([lo, np.clip(np.asarray(box[2:], float), lo, [w, h])])


def agree_in_view(
    a: np.ndarray, b: np.ndarray, frame_size: tuple[int, int], min_iou: float
) -> bool:
    """Two (4,) boxes, at least one cut by the (W, H) frame: their parts in view overlap at
    IoU >= ``min_iou``. False when neither is cut: nothing beyond the frame to discount."""
    a_in, b_in = in_view(a, frame_size), in_view(b, frame_size)
    if np.array_equal(a_in, a) and np.array_equal(b_in, b):
        return False
    return box_iou(a_in, b_in) >= min_iou


def box_at_scale(box: np.ndarray, scale: float) -> np.ndarray:
    """(4,) x0, y0, x1, y1 -> (4,) the same centre and aspect at scale sqrt(w h) = ``scale``."""
    z = box_to_state(np.asarray(box, float))
    z[2] = scale
    return state_to_box(z)


def mesh_offset(mesh_box: np.ndarray, state: np.ndarray) -> np.ndarray:
    """(4,) mesh box, (4,) track state (cx, cy, s, r) -> (4,) the mesh box's offset from
    the state: centre shift in scales, log scale ratio, aspect difference."""
    z, s = box_to_state(mesh_box), max(float(state[2]), 1e-3)
    return np.array(
        [(z[0] - state[0]) / s, (z[1] - state[1]) / s, np.log(z[2] / s), z[3] - state[3]]
    )


def debiased_box(mesh_box: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """(4,) mesh box less an ``offset`` (``mesh_offset``'s) -> (4,) box: the box the track
    would have if the person moved as the mesh did. The centre shift is removed in the
    person's scale now, so a person growing or shrinking keeps it in proportion."""
    z = box_to_state(mesh_box)
    s = z[2] / np.exp(offset[2])  # the person's scale: the mesh's less the offset
    return state_to_box(
        np.array([z[0] - offset[0] * s, z[1] - offset[1] * s, s, max(z[3] - offset[3], 1e-3)])
    )


def mesh_box(extent: np.ndarray, scale: float) -> np.ndarray:
    """(4,) x0, y0, x1, y1 extent of a mesh's vertices in image px (pixel centres at
    integers) -> (4,) square continuous box of side ``scale`` times its larger side, centred
    on it."""
    lo, hi = np.asarray(extent[:2]) + 0.5, np.asarray(extent[2:]) + 0.5
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()), 1.0) * scale / 2
    return np.concatenate([centre - half, centre + half])


class Track:
    """One person's Kalman filter and bookkeeping; ``box`` is the current estimate."""

    def __init__(self, track_id: int, box: np.ndarray, score: float, cfg: TrackerConfig) -> None:
        self.id = track_id
        self.score = score
        self.hits = 1  # detections matched
        self.age = 0  # frames since birth
        self.frames_since_detection = 0
        self.frames_since_seen = 0  # since a matching detection or an accepted mesh
        self.missed = False  # unmatched at the last detector run or mesh box rejected
        # not shown before its mesh vets it: born of a weak detection (``confident_score``)
        self.vetted = score >= cfg.confident_score
        self.steered = False  # the last mesh was accepted: it, not a detection, sets the box
        # the next crop's turn (radians) and side factor, from the last mesh (pipeline/crops)
        self.crop_rotation = 0.0
        self.crop_side = 1.0
        self.detected_box = np.asarray(box, float).copy()  # the last matching detection's
        self.frames_lost = 0  # frames in the lost pool (``Tracker.lost``)
        # where the person was last seen (a matching detection or an accepted mesh): a lost
        # track is looked for there, not where its prediction coasted to unseen
        self.seen_box = np.asarray(box, float).copy()
        # the first mesh box's state after the last detection less the track's then
        # (centre in scales, log scale, aspect); None until that mesh (``Tracker.refine``)
        self.mesh_offset: np.ndarray | None = None
        self._cfg = cfg
        self.kf = self._filter(box)

    def _filter(self, box: np.ndarray) -> KalmanFilter:
        """A fresh filter at ``box``, its velocity unknown."""
        cfg = self._cfg
        kf = KalmanFilter(dim_x=8, dim_z=4)
        kf.F = np.eye(8) + np.eye(8, k=4)  # constant velocity, one frame per step
        kf.H = np.eye(4, 8)
        z = box_to_state(box)
        kf.x[:4, 0] = z
        s = z[2]
        kf.P = np.diag(
            [(cfg.position_noise * s) ** 2] * 2
            + [(cfg.scale_noise * s) ** 2, cfg.aspect_noise**2]
            + [(0.2 * s) ** 2] * 2  # unknown velocity: up to ~0.2 box per frame
            + [(0.05 * s) ** 2, (10 * cfg.aspect_noise) ** 2]
        )
        return kf

    def revive(self, box: np.ndarray, score: float) -> None:
        """Back from the lost pool, or a drifted live track rematched (``Tracker.
        _rematch_missed``), on a detection ``box`` (4,) x0, y0, x1, y1 image px: the filter
        restarts at it (the old velocity is stale), the id and confirmation are kept."""
        self.kf = self._filter(box)
        self.score = score
        self.hits += 1
        self.detected_box = np.asarray(box, float).copy()
        self.seen_box = np.asarray(box, float).copy()
        self.mesh_offset = None
        self.frames_since_detection = self.frames_since_seen = self.frames_lost = 0
        self.missed = self.steered = False
        self.vetted = True  # it was a confirmed person
        self.crop_rotation, self.crop_side = 0.0, 1.0

    @property
    def box(self) -> np.ndarray:
        """(4,) x0, y0, x1, y1 image px of the filter's state."""
        return state_to_box(self.kf.x[:, 0])

    @property
    def detected_scale(self) -> float:
        """sqrt(w h) of the last matching detection's box: the person's size then."""
        return float(box_to_state(self.detected_box)[2])

    @property
    def scale(self) -> float:
        return float(max(self.kf.x[2, 0], 1.0))

    def predict(self) -> None:
        """Advance one frame; process noise scales with the current size."""
        cfg, s = self._cfg, self.scale
        q = np.array([cfg.motion_noise * s] * 3 + [cfg.aspect_noise * 0.1]) ** 2
        self.kf.Q = np.diag(np.concatenate([q * 0.25, q]))  # position gets 1/2 step of it
        if self.missed:  # nothing steers the size now: keep it (no collapse onto nothing)
            self.kf.x[6:, 0] = 0.0
        self.kf.predict()
        self.kf.x[2, 0] = max(self.kf.x[2, 0], 1.0)
        self.age += 1
        self.frames_since_detection += 1
        self.frames_since_seen += 1

    def debias(self, mesh_box: np.ndarray) -> np.ndarray:
        """A mesh box (4,) less this track's mesh offset -> (4,) (``mesh_offset``, set from this
        box when it is the first mesh since the last detection, so that mesh confirms the
        state)."""
        if self.mesh_offset is None:
            self.mesh_offset = mesh_offset(mesh_box, self.kf.x[:4, 0])
        return debiased_box(mesh_box, self.mesh_offset)

    def correct(self, box: np.ndarray, position_std: float, scale_std: float) -> None:
        """Kalman update with a box measurement (4,) x0, y0, x1, y1 image px; std values are
        fractions of the scale."""
        s = self.scale
        r = np.array([position_std * s] * 2 + [scale_std * s, self._cfg.aspect_noise]) ** 2
        self.kf.update(box_to_state(box), R=np.diag(r))


class Tracker:
    """Tracks of the people in a stream; one ``step`` per frame:

    ``predict()``; if ``needs_detection()``: ``update(boxes, scores)``; after the network
    ``vet(track, visibility)`` each of the ``unvetted()`` tracks (weak detections, meshed
    with the active ones) and ``refine(track, mesh_box, confidence)``; ``active()`` lists
    the tracks to show.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.reset()

    def reset(self) -> None:
        """Forget every track (a new, unrelated input); ids restart at 1."""
        self.tracks: list[Track] = []
        self.lost: list[Track] = []  # confirmed tracks that died unseen, newest last
        # boxes of weak detections their mesh rejected, and the detector runs left to each
        self.rejected: list[tuple[np.ndarray, int]] = []
        self._next_id = 1
        self._frames_since_detection_run: int | None = None  # None: never ran
        self._track_died = False
        self._frames = 0

    def predict(self) -> None:
        """Start a new frame: advance every track and drop those too long unseen."""
        for t in self.tracks:
            t.predict()
        cfg = self.config
        alive = [t for t in self.tracks if t.frames_since_seen <= cfg.max_age]
        self._track_died |= len(alive) < len(self.tracks)
        died = [t for t in self.tracks if t.frames_since_seen > cfg.max_age]
        for t in self.lost:
            t.frames_lost += 1
            t.frames_since_seen += 1
        self.lost = [t for t in self.lost if t.frames_lost <= cfg.max_lost_age]
        self.lost += [t for t in died if t.hits >= cfg.min_hits and cfg.max_lost_age > 0]
        self.tracks = alive
        if self._frames_since_detection_run is not None:
            self._frames_since_detection_run += 1
        self._frames += 1

    def needs_detection(self) -> bool:
        """Whether this frame should run the detector (schedule or uncertain tracking)."""
        return self.detection_scheduled() or self.tracking_uncertain()

    def detection_scheduled(self) -> bool:
        """Whether a scheduled run (``detect_every``, to find newcomers) is due."""
        since = self._frames_since_detection_run
        return since is not None and since >= self.config.detect_every

    def tracking_uncertain(self) -> bool:
        """Whether only the detector can tell where the people are: never ran, no confirmed
        track, a tentative or missed track, one about to die unseen, or one that died."""
        cfg = self.config
        return (
            self._frames_since_detection_run is None
            or not any(t.hits >= cfg.min_hits for t in self.tracks)
            or self._track_died
            or any(t.missed or t.hits < cfg.min_hits for t in self.tracks)
            or any(t.frames_since_seen >= cfg.max_age for t in self.tracks)
        )

    def postpone_detection(self) -> None:
        """Skip the scheduled run that is due (nothing new can be found, ``motion``): the
        schedule counts again from this frame."""
        if self._frames_since_detection_run is not None:
            self._frames_since_detection_run = 0

    def update(self, boxes: np.ndarray, scores: np.ndarray, frames_ago: int = 0) -> None:
        """Feed one detector run: (N, 4) continuous image-px boxes and (N,) scores; a run
        made ``frames_ago`` frames ago (boxes already carried to this frame) keeps the
        schedule counting from the frame it looked at."""
        cfg = self.config
        boxes = np.asarray(boxes, float).reshape(-1, 4)
        predicted = np.array([t.box for t in self.tracks]).reshape(-1, 4)
        matches, lost, new = associate(predicted, boxes, cfg.iou_threshold)
        lost, new = self._rematch_missed(lost, boxes, scores, new)
        for ti, di in matches:
            t = self.tracks[ti]
            confirms = t.steered and cfg.mesh_steers
            if not (confirms and box_iou(predicted[ti], boxes[di]) >= cfg.steer_iou):
                t.correct(boxes[di], cfg.position_noise, cfg.scale_noise)
            t.hits += 1
            t.detected_box = boxes[di].copy()
            t.frames_since_detection = t.frames_since_seen = 0
            t.seen_box = t.box
            t.mesh_offset = None
            t.score = float(scores[di])
            t.vetted |= t.score >= cfg.confident_score
            t.missed = False
        for ti in lost:
            self.tracks[ti].missed = True
        # a tentative track that misses a detection was a false positive: drop it now
        self.tracks = [t for t in self.tracks if not (t.missed and t.hits < cfg.min_hits)]
        new = self._revive_lost(boxes, scores, new)
        new = self._skip_rejected(boxes, scores, new)
        room = cfg.max_tracks - len(self.tracks)
        for di in sorted(new, key=lambda j: -scores[j])[: max(room, 0)]:
            self.tracks.append(Track(self._next_id, boxes[di], float(scores[di]), cfg))
            self._next_id += 1
        self._frames_since_detection_run = frames_ago
        self._track_died = False

    def _rematch_missed(
        self, unmatched: list[int], boxes: np.ndarray, scores: np.ndarray, new: list[int]
    ) -> tuple[list[int], list[int]]:
        """Live tracks no detection overlapped (indices ``unmatched``) take a detection near
        where they were last seen, detected or predicted, at the size of their last detection
        (``reassociate``'s rule, as for lost tracks): the filter restarts there under the
        same id. Their box had drifted or grown with meshes drawn off the person (a
        close-up whose body below the frame is guessed: the box's centre sinks with the
        guess), and a second track used to be born on the person while the first coasted
        away and died (webcam clips: a new id every few seconds). Returns the tracks still
        unmatched and the detections left."""
        if not unmatched or not new:
            return unmatched, new
        tracks = [self.tracks[i] for i in unmatched]
        seen = np.array([box_at_scale(t.seen_box, t.detected_scale) for t in tracks])
        coasted = np.array([t.box for t in tracks])
        detected = np.array([t.detected_box for t in tracks])
        frames = np.array([t.frames_since_seen for t in tracks])
        pairs = reassociate(seen, coasted, frames, boxes[new], self.config, also=detected)
        for ti, k in pairs:
            tracks[ti].revive(boxes[new[k]], float(scores[new[k]]))
        rematched, taken = {unmatched[ti] for ti, _ in pairs}, {new[k] for _, k in pairs}
        return [i for i in unmatched if i not in rematched], [j for j in new if j not in taken]

    def _skip_rejected(self, boxes: np.ndarray, scores: np.ndarray, new: list[int]) -> list[int]:
        """The new detections left to start tracks: weak ones on the spot of a remembered
        rejection are not (``rejected_runs``); each run ages the memory by one."""
        cfg = self.config
        if self.rejected and new:
            remembered = np.stack([b for b, _ in self.rejected])
            overlap = iou_matrix(boxes[new], remembered).max(axis=1)
            skip = (scores[new] < cfg.confident_score) & (overlap >= cfg.iou_threshold)
            new = [d for d, s in zip(new, skip, strict=True) if not s]
        self.rejected = [(b, runs - 1) for b, runs in self.rejected if runs > 1]
        return new

    def _revive_lost(self, boxes: np.ndarray, scores: np.ndarray, new: list[int]) -> list[int]:
        """Offer the detections no live track took to the lost tracks (``reassociate``);
        the revived rejoin the live tracks (oldest first, room permitting). Returns the
        detections left to start new tracks."""
        room = self.config.max_tracks - len(self.tracks)
        if not self.lost or not new or room <= 0:
            return new
        seen = np.array([t.seen_box for t in self.lost])
        coasted = np.array([t.box for t in self.lost])
        frames = np.array([t.frames_since_seen for t in self.lost])
        pairs = reassociate(seen, coasted, frames, boxes[new], self.config)
        pairs = sorted(pairs, key=lambda p: self.lost[p[0]].id)[:room]
        revived = {li for li, _ in pairs}
        for li, k in pairs:
            self.lost[li].revive(boxes[new[k]], float(scores[new[k]]))
        self.tracks = sorted(self.tracks + [self.lost[i] for i in revived], key=lambda t: t.id)
        self.lost = [t for i, t in enumerate(self.lost) if i not in revived]
        taken = {new[k] for _, k in pairs}
        return [j for j in new if j not in taken]

    def refine(self, track_id: int, box: np.ndarray, confidence: float) -> bool:
        """Correct a track with the box (4,) x0, y0, x1, y1 of its predicted mesh (continuous
        image px); a mesh that is unsure, far from the prediction or of another size than the
        person at their last detection marks the track for re-detection instead (returns False:
        the mesh is not the person's). An accepted mesh keeps the track alive (as MediaPipe's
        landmarks keep its ROI) unless the detector missed it at its last run: then only a
        detection can."""
        cfg = self.config
        track = next((t for t in self.tracks if t.id == track_id), None)
        if track is None or not cfg.refine_from_mesh:
            return True
        box = np.asarray(box, float)
        # compared as fused: less the mesh's offset once it is known
        measured = box
        if cfg.mesh_relative and track.mesh_offset is not None:
            measured = debiased_box(box, track.mesh_offset)
        agrees = box_iou(track.box, measured) >= cfg.min_refine_iou
        change = box_to_state(measured)[2] / track.detected_scale
        agrees &= 1 / cfg.max_mesh_scale_change <= change <= cfg.max_mesh_scale_change
        if confidence < cfg.min_mesh_confidence or not agrees:
            self.reject(track_id)
            return False
        track.correct(
            track.debias(box) if cfg.mesh_relative else box, cfg.mesh_noise, cfg.mesh_noise
        )
        track.steered = True
        if not track.missed:
            track.frames_since_seen = 0
            track.seen_box = track.box
        return True

    def reject(self, track_id: int) -> None:
        """The track's mesh is not to be trusted (unsure, elsewhere, broken): detect again, and
        start its next crop from the detector's box."""
        for t in self.tracks:
            if t.id == track_id:
                t.missed, t.steered = True, False
                t.crop_rotation, t.crop_side = 0.0, 1.0

    def unvetted(self) -> list[Track]:
        """Tracks born of a weak detection whose mesh has not vetted them yet (``vet``): the
        network runs on them in the frame they are detected, they are not shown."""
        return [t for t in self.tracks if not t.vetted]

    def vet(self, track_id: int, visibility: float) -> bool:
        """A weak track's first mesh, of mean vertex ``visibility``: at least
        ``weak_min_visibility`` vets the track (it then lives as any new track) and returns
        True; the caller drops a track that fails (``reject_weak``)."""
        if visibility < self.config.weak_min_visibility:
            return False
        for t in self.tracks:
            if t.id == track_id:
                t.vetted = True
        return True

    def reject_weak(self, track_id: int) -> None:
        """Drop a weak detection's track whose mesh did not vet it, and remember where it was
        for ``rejected_runs`` detector runs."""
        for t in self.tracks:
            if t.id == track_id and self.config.rejected_runs > 0:
                self.rejected.append((t.box.copy(), self.config.rejected_runs))
        self.drop(track_id)

    def drop(self, track_id: int) -> None:
        """Forget a track at once (it follows a person another, older track already has, or
        a weak detection its mesh did not vet)."""
        self.tracks = [t for t in self.tracks if t.id != track_id]

    def active(self) -> list[Track]:
        """Tracks to show this frame: confirmed ones, oldest first.

        During the first ``min_hits`` frames after a reset every detected track is shown at
        once (as SORT does), so a still image or the start of a video is not empty; a track
        born of a weak detection only once its mesh has vetted it (``vet``).
        """
        return [t for t in self.tracks if self.shows(t)]

    def shows(self, track: Track) -> bool:
        """Whether ``track`` is one to show this frame (``active``)."""
        cfg = self.config
        warm_up = self._frames <= cfg.min_hits
        return track.vetted and (track.hits >= cfg.min_hits or (warm_up and not track.missed))
