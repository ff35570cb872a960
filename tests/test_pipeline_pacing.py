"""Frames at a camera's pace (``pacing.PacedSource``): frames wait for their capture time, a
late consumer gets the newest frame and the skipped ones count as dropped; ``pick_mode``
chooses sequential processing only while it keeps up with a paced source (a camera), a
source read unpaced (a file) overlapped; ``Pipeline.stream(overlap="auto")`` probes
sequentially, then runs the chosen mode with the same results. Also the benchmark's
scene helpers (sizes, cover-cropping)."""

# ruff: noqa: F811  (the fixture `frames` is imported from test_pipeline_overlap)
from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from test_pipeline_overlap import NUM_FRAMES, config, frames  # noqa: F401

from meshpose_core.bench.layers_bench import cover, parse_sizes
from meshpose_core.pipeline import Pipeline, engine
from meshpose_core.pipeline.pacing import (
    PROBE_FRAMES,
    PROBE_LENGTH,
    PacedSource,
    PacedStats,
    arrival_fps,
    pick_mode,
)

IMAGES = [np.full((8, 8, 3), i, np.uint8) for i in range(3)]


class SimClock:
    """A clock that only moves when someone sleeps: pacing tests a loaded machine cannot
    break."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def test_paced_source_waits_for_each_capture() -> None:
    clock = SimClock()
    source = PacedSource(IMAGES, fps=200.0, count=10, clock=clock, sleep=clock.sleep)
    got = list(source)
    assert [f.index for f in got] == list(range(10)) and source.dropped == 0
    assert clock.now - 100.0 == pytest.approx(9 / 200.0)  # waited for the last capture
    assert got[4].timestamp == pytest.approx(4 / 200.0)
    assert source.captured_at(got[4]) == pytest.approx(100.0 + 4 / 200.0)
    assert int(got[4].image[0, 0, 0]) == 4 % 3  # the images cycle


def test_a_late_consumer_gets_the_newest_frame_and_drops_the_rest() -> None:
    clock = SimClock()
    source = PacedSource(IMAGES, fps=100.0, count=30, clock=clock, sleep=clock.sleep)
    indices = []
    for frame in source:
        indices.append(frame.index)
        assert clock() - source.captured_at(frame) >= 0.0
        clock.sleep(0.035)  # 3.5 camera periods per frame
    assert indices[0] == 0 and indices[-1] == 29
    assert all(b - a >= 3 for a, b in itertools.pairwise(indices[:-1]))  # the last: clamped
    assert source.delivered == len(indices)
    assert source.dropped + source.delivered == 30


def test_paced_source_runs_on_the_real_clock() -> None:
    source = PacedSource(IMAGES, fps=200.0, count=5)
    start = time.perf_counter()
    got = list(source)
    assert time.perf_counter() - start >= 4 / 200.0  # never early (late is a loaded machine)
    assert got[0].index == 0 and got[-1].index == 4


def test_paced_source_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="at least one image"):
        PacedSource([], 30.0, 5)
    with pytest.raises(ValueError, match="positive"):
        PacedSource(IMAGES, 0.0, 5)


def test_pick_mode_and_keeping_up() -> None:
    fast = [15.0] * 19 + [40.0]  # p95 15.8 ms: within 0.85 of a 30 FPS period, not 60
    slow = [20.0] * 10 + [31.0] * 10
    assert pick_mode(fast, 30.0) == "sequential"
    assert pick_mode(slow, 30.0) == "overlap"
    assert pick_mode(fast, 60.0) == "overlap"  # 16.7 ms periods
    assert pick_mode(fast, 0.0) == "overlap" and pick_mode([], 30.0) == "overlap"
    stats = PacedStats("sequential", 30.0, [10.0, 20.0, 30.0], dropped=0, delivered=3)
    assert stats.keeps_up and stats.percentile(50) == 20.0
    assert not PacedStats("overlap", 30.0, [1.0], dropped=5, delivered=95).keeps_up


class Frames(list):
    """Frames with a source's pace attributes (``Source.fps``, ``Source.live``)."""

    def __init__(self, frames: list, fps: float, live: bool) -> None:
        super().__init__(frames)
        self.fps, self.live = fps, live


def test_auto_mode_for_paced_and_unpaced_sources() -> None:
    """The same measured work (hand-made figures, ms per sequential frame): a camera whose
    period it fits with headroom gets sequential processing (no queue: the lowest latency),
    a faster camera overlapped (sequential would drop frames); a file read unpaced has no
    camera rate to keep up with, whatever its nominal rate: overlapped (throughput)."""
    busy = [18.0] * 18 + [21.0, 24.0]  # p95 21.15 ms
    camera_30 = Frames([], 30.0, live=True)  # 33.3 ms periods, 28.3 with headroom
    camera_60 = Frames([], 60.0, live=True)  # 16.7 ms
    file_30 = Frames([], 30.0, live=False)  # a 30 FPS clip, read as fast as asked
    stills = Frames([], 0.0, live=False)
    camera_unknown = Frames([], 0.0, live=True)  # a camera that does not say its rate
    assert arrival_fps(camera_30) == 30.0 and arrival_fps(file_30) == 0.0
    assert arrival_fps([]) == 0.0 and arrival_fps(PacedSource(IMAGES, 25.0, 5)) == 25.0
    assert pick_mode(busy, arrival_fps(camera_30)) == "sequential"
    assert pick_mode(busy, arrival_fps(camera_60)) == "overlap"
    for unpaced in (file_30, stills, camera_unknown):
        assert pick_mode(busy, arrival_fps(unpaced)) == "overlap"
    slow_tail = [18.0] * 17 + [30.0, 31.0, 35.0]  # p95 31.2 ms: too close to 30 FPS periods
    assert pick_mode(slow_tail, arrival_fps(camera_30)) == "overlap"


@pytest.mark.parametrize(
    ("camera_fps", "frames_fps", "expected"),
    [(1e-3, None, "sequential"), (1e4, None, "overlap"), (None, 1e-3, "overlap")],
)
def test_auto_stream_probes_then_runs_the_chosen_mode(
    tiny_model: Path,
    frames,
    monkeypatch,
    camera_fps: float | None,
    frames_fps: float | None,
    expected: str,
) -> None:
    """A camera far slower than the work: sequential; far faster: overlapped; a source read
    unpaced (not live), however slow its nominal rate: overlapped. Either way the results
    are those of the sequential loop, in order. The decision sees the probe's frames after
    the stream's first ``PROBE_SETTLE`` (the tracker's acquisition)."""
    decided = []

    def spy(busy_ms: list[float], fps: float) -> str:
        decided.append(len(busy_ms))
        return pick_mode(busy_ms, fps)

    monkeypatch.setattr(engine, "pick_mode", spy)
    frames = frames * (PROBE_LENGTH // NUM_FRAMES + 1)
    with Pipeline(config(tiny_model)) as pipe:
        reference = [r.annotated.copy() for r in pipe.run(frames)]
    if frames_fps is not None:
        frames = Frames(frames, frames_fps, live=False)
    with Pipeline(config(tiny_model)) as pipe:
        streamed = pipe.stream(frames, "auto", False, camera_fps)
        got = [(f.index, r.annotated.copy()) for f, r in streamed]
        assert pipe.stream_mode == expected
    assert decided == [PROBE_FRAMES]
    assert len(got) == len(frames)
    for (index, image), frame, ref in zip(got, frames, reference, strict=True):
        assert index == frame.index
        np.testing.assert_array_equal(image, ref)


def test_bench_scene_helpers() -> None:
    assert parse_sizes("640x480,1280X720") == ((640, 480), (1280, 720))
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_sizes("640")
    wide = np.zeros((362, 640, 3), np.uint8)
    wide[:, 300:340] = 255  # a bright band at the centre stays at the centre
    out = cover(wide, 1280, 720)
    assert out.shape == (720, 1280, 3) and out[:, 640].min() == 255 and out[:, 0].max() == 0
    assert cover(wide, 320, 240).shape == (240, 320, 3)


def test_overlapped_live_stream_takes_the_newest_frames(tiny_model: Path, frames) -> None:
    """From a live source the overlapped stream infers the newest frame each time: indices
    only grow, the camera's last frame comes out, none is handed over twice."""
    source = PacedSource([f.image for f in frames], fps=200.0, count=40)
    with Pipeline(config(tiny_model)) as pipe:
        got = [f.index for f, _ in pipe.stream(source, overlap=True)]
        assert pipe.stream_mode == "overlap"
    assert got == sorted(set(got)) and got[-1] == 39
