"""Scheduled detector runs in a worker thread, their people used a fixed number of frames later.

While every person is tracked, the detector only looks for newcomers (``TrackerConfig.
detect_every``). Run inline, that look stalls one frame in fifteen by a whole detector run
(YOLOX-nano at 416: ~15 ms on two cores, as long as the rest of the frame), which the
live view shows as a hitch and which cost one person's frame rate ~1 ms a frame on average.
Most of a frame's work is single-threaded Python (decoding, tracking, upsampling, drawing),
so a second core idles for most of it: the scheduled run goes there instead.

The run starts on frame t and its detections are applied at frame t + ``lag``, always that
frame (the pipeline waits for the worker if it is slower), so results do not depend on
timing: a clip gives the same meshes on every machine. Detections of people already tracked
are moved by how their track moved since frame t (``carried_forward``) before they are
matched; newcomers start where they were seen. A run that is still pending when tracking
turns uncertain (a track missed, one died) is dropped: the detector then looks at the
current frame, inline, as before.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from meshpose_core.detection import Detection, PersonDetector

from .tracker import iou_matrix


def carried_forward(
    boxes: np.ndarray, then: np.ndarray, now: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Detections made a few frames ago, moved with the tracks they belong to.

    Args:
        boxes: (N, 4) detections x0, y0, x1, y1 in the frame they were made on.
        then: (T, 4) the tracks' boxes on that frame; now: (T, 4) the same tracks' boxes on
            this frame (same order).
        iou_threshold: a detection belongs to the track it overlaps most, at this IoU or more.

    Returns:
        (N, 4): each track's detection shifted and resized as its box was meanwhile (corner
        by corner); the others as they were.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not len(boxes) or not len(then):
        return boxes.copy()
    iou = iou_matrix(boxes, np.asarray(then, np.float64).reshape(-1, 4))
    best = iou.argmax(axis=1)
    moved = iou[np.arange(len(boxes)), best] >= iou_threshold
    delta = np.asarray(now, np.float64).reshape(-1, 4) - np.asarray(then, np.float64)
    return boxes + np.where(moved[:, None], delta[best], 0.0)


class BackgroundDetection:
    """One detector run at a time in a worker thread (``start``), collected ``lag`` frames
    later (``tick`` each frame, then ``collect``). The detector must not be used elsewhere
    while a run is pending (``cancel`` waits for it)."""

    def __init__(self, lag: int) -> None:
        if lag < 1:
            raise ValueError(f"a background detection lags at least one frame, got {lag}")
        self.lag = lag
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="person-detector")
        self._future: Future[list[Detection]] | None = None
        self._frames_left = 0
        self._then: dict[int, np.ndarray] = {}

    @property
    def pending(self) -> bool:
        return self._future is not None

    def start(
        self, detector: PersonDetector, image: np.ndarray, tracks: dict[int, np.ndarray]
    ) -> None:
        """Run ``detector`` on a copy of ``image`` (H, W, 3) (the caller may draw on its
        frame meanwhile); ``tracks``: {track id: (4,) box} on this frame."""
        if self._future is not None:
            raise RuntimeError("a background detector run is already pending")
        self._then = {k: np.array(v, np.float64) for k, v in tracks.items()}
        self._frames_left = self.lag
        self._future = self._pool.submit(detector.detect, image.copy())

    def tick(self) -> bool:
        """Count one new frame; -> whether the pending run is due on it."""
        if self._future is None:
            return False
        self._frames_left -= 1
        return self._frames_left <= 0

    def collect(
        self, tracks: dict[int, np.ndarray], iou_threshold: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Wait for the pending run -> its detections' boxes (N, 4), carried to this frame
        with ``tracks`` ({id: box} now, ``carried_forward``), and scores (N,)."""
        if self._future is None:
            raise RuntimeError("no background detector run is pending")
        future, self._future = self._future, None
        detections = future.result()  # re-raises the worker's error here
        boxes = np.array([d.box for d in detections], np.float64).reshape(-1, 4)
        scores = np.array([d.score for d in detections], np.float64)
        ids = [k for k in self._then if k in tracks]
        then = np.array([self._then[k] for k in ids]).reshape(-1, 4)
        now = np.array([tracks[k] for k in ids], np.float64).reshape(-1, 4)
        return carried_forward(boxes, then, now, iou_threshold), scores

    def cancel(self) -> None:
        """Drop the pending run (after it finishes: the detector is free again)."""
        if self._future is not None:
            future, self._future = self._future, None
            # a dropped run's failure does not matter: the inline run replacing it tells
            with contextlib.suppress(Exception):
                future.result()

    def close(self) -> None:
        self.cancel()
        self._pool.shutdown(wait=True)
