"""Frames at a camera's pace: latency from capture to annotated frame, dropped frames, and the
processing mode (sequential or overlapped) that suits a camera's rate.

A file is read as fast as the pipeline asks, so queues fill and overlapped frames wait: the
latency a benchmark reports for it is not what a webcam user feels. A camera delivers a frame
every ``1 / fps`` seconds whether anyone is ready or not, and keeps only the newest one
(a one-frame buffer): a pipeline that falls behind drops frames, one that keeps up shows each
frame after its processing time plus at most the wait for the next capture. ``PacedSource``
replays pictures that way; ``pick_mode`` decides from sequential frame times measured live
whether sequential processing keeps up with the camera (then it has the lowest latency:
nothing waits in a queue) or the overlapped mode's extra throughput is needed; a source read
unpaced (a file) has no camera rate to keep up with (``arrival_fps`` 0): overlapped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from .sources import Frame, Source

MODES: tuple[str, ...] = ("sequential", "overlap")
HEADROOM = 0.85  # sequential keeps up when its p95 frame time is within this share of a period
PROBE_FRAMES = 20  # sequential frames measured before ``pick_mode`` decides
# first frames of a stream not measured: the tracker detects on every frame until it has
# confirmed its people, and first calls warm up. Measured (640x480, one person, 2 loaded
# cores): a probe's first two frames took 80-100 ms against 20-45 ms for the next ones; two
# slow frames in 20 set the 95th percentile alone, and the probe chose overlap every time
PROBE_SETTLE = 5
PROBE_LENGTH = PROBE_SETTLE + PROBE_FRAMES  # sequential frames before the chosen mode


class PacedSource(Source):
    """``images`` replayed as a camera at ``fps`` would deliver them, for ``count`` frames
    (cycling through the images): frame k is captured at ``start + k / fps``; a request
    before that waits for it, a request after a later capture gets the newest frame and the
    ones in between are dropped (``dropped``). ``Frame.timestamp`` is the capture time in
    seconds from the start; ``captured_at(frame)`` the same as a ``clock`` value. ``clock``
    and ``sleep`` are the real ones unless a test passes a simulated pair (timing tests that
    a loaded machine cannot break).
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        fps: float,
        count: int,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not images:
            raise ValueError("a paced source needs at least one image")
        if fps <= 0 or count <= 0:
            raise ValueError(f"fps and count must be positive, got {fps} and {count}")
        self.images = list(images)
        self.fps = float(fps)
        self.frame_count = int(count)
        self.description = f"paced camera at {fps:g} FPS"
        self.live = True
        self.dropped = 0
        self.delivered = 0
        self._start = 0.0
        self._clock, self._sleep = clock, sleep

    def captured_at(self, frame: Frame) -> float:
        return self._start + frame.timestamp

    def __iter__(self) -> Iterator[Frame]:
        self._start = self._clock()
        self.dropped = self.delivered = 0
        k = 0
        while k < self.frame_count:
            now = self._clock()
            due = self._start + k / self.fps
            if now < due:
                self._sleep(due - now)
            else:  # late: the newest capture is the one the camera holds
                newest = min(int((now - self._start) * self.fps), self.frame_count - 1)
                self.dropped += newest - k
                k = newest
            self.delivered += 1
            image = self.images[k % len(self.images)]
            yield Frame(image, k / self.fps, k)
            k += 1


@dataclass
class PacedStats:
    """Per delivered frame, capture to annotated frame ready (ms); dropped camera frames."""

    mode: str
    fps: float
    latency_ms: list[float] = field(default_factory=list)
    dropped: int = 0
    delivered: int = 0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latency_ms, q)) if self.latency_ms else math.nan

    @property
    def keeps_up(self) -> bool:
        """No camera frame dropped (one in a hundred forgiven: a shared machine's hiccup)."""
        return self.dropped <= 0.01 * (self.dropped + self.delivered)


def arrival_fps(frames: object) -> float:
    """The rate at which ``frames`` arrive whether read or not: a live source's (a camera,
    ``PacedSource``) frame rate; 0 for one that waits to be read (a file, stills), whose
    own ``fps`` is a playback rate that nobody waits for: read unpaced, throughput counts."""
    return float(getattr(frames, "fps", 0.0) or 0.0) if getattr(frames, "live", False) else 0.0


def pick_mode(busy_ms: Sequence[float], camera_fps: float, headroom: float = HEADROOM) -> str:
    """ "sequential" when sequential processing keeps up with the camera: the 95th
    percentile of its per-frame work (``busy_ms``: inference, drawing and whatever the
    caller does with a frame, capture waits excluded) fits ``headroom`` of a frame period;
    else "overlap" (more frames per second, one frame more latency). Without a rate (0: a
    file, stills) or any measurement: "overlap", the throughput mode."""
    if camera_fps <= 0 or not len(busy_ms):
        return "overlap"
    period_ms = 1e3 / camera_fps
    return "sequential" if float(np.percentile(busy_ms, 95)) <= headroom * period_ms else "overlap"
