"""Pipeline.run(overlap=True): decoding, inference and annotation of neighbouring frames on
three threads give the same results, in order, as the sequential loop; early exits and
source errors leave no thread behind. Also ``infer`` + ``annotate`` == ``process``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from meshpose_core.pipeline import (
    NetworkConfig,
    Pipeline,
    PipelineConfig,
    RenderConfig,
    TrackerConfig,
    VideoSource,
)
from meshpose_core.pipeline.layers import parse_layers
from meshpose_core.pipeline.results import FrameResult
from meshpose_core.pipeline.sources import Frame

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "assets" / "samples" / "gym_run.mp4"
NUM_FRAMES = 12
STAGE_THREADS = ("decode", "infer")


@pytest.fixture(scope="module")
def frames() -> list[Frame]:
    """The first frames of the sample clip, decoded once."""
    out = []
    with VideoSource(SAMPLE) as src:
        for frame in src:
            out.append(frame)
            if len(out) == NUM_FRAMES:
                break
    assert len(out) == NUM_FRAMES
    return out


def config(model: Path, layers: str = "mesh,keypoints,boxes") -> PipelineConfig:
    """Torch on one CPU thread; the detector every 3rd frame in between mesh-free tracking
    (random weights give meaningless meshes); no HUD (its FPS text differs run to run)."""
    return PipelineConfig(
        network=NetworkConfig(model=str(model), backend="torch", device="cpu", threads=1),
        tracker=TrackerConfig(detect_every=3, refine_from_mesh=False),
        render=RenderConfig(layers=parse_layers(layers), renderer="cpu"),
    )


def stage_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in STAGE_THREADS]


def no_stage_threads_left(timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while stage_threads():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def assert_same_results(got: list[FrameResult], want: list[FrameResult]) -> None:
    assert [r.index for r in got] == [r.index for r in want]
    for a, b in zip(got, want, strict=True):
        assert a.detected == b.detected, a.index
        assert (a.width, a.height, a.timestamp) == (b.width, b.height, b.timestamp)
        assert [p.track_id for p in a.people] == [p.track_id for p in b.people], a.index
        for p, q in zip(a.people, b.people, strict=True):
            np.testing.assert_allclose(p.box, q.box, atol=1e-4)
            np.testing.assert_allclose(p.vertices, q.vertices, atol=1e-4, rtol=1e-6)
            np.testing.assert_allclose(p.visibility, q.visibility, atol=1e-4)
            np.testing.assert_allclose(p.keypoints, q.keypoints, atol=1e-4, rtol=1e-6)
            np.testing.assert_allclose(p.vertices_high, q.vertices_high, atol=1e-4, rtol=1e-6)


def test_overlap_gives_the_sequential_results_in_order(
    tiny_model: Path, frames: list[Frame]
) -> None:
    originals = [f.image.copy() for f in frames]
    with Pipeline(config(tiny_model)) as pipe:
        sequential = list(pipe.run(frames, overlap=False))
    threads: dict[str, set[str]] = {"source": set(), "infer": set(), "annotate": set()}

    def traced(stage: str, method: Callable[..., FrameResult]) -> Callable[..., FrameResult]:
        def call(*args: object) -> FrameResult:
            threads[stage].add(threading.current_thread().name)
            return method(*args)

        return call

    def source() -> Iterator[Frame]:
        for f in frames:
            threads["source"].add(threading.current_thread().name)
            yield f

    with Pipeline(config(tiny_model)) as pipe:
        pipe.infer = traced("infer", pipe.infer)  # type: ignore[method-assign]
        pipe.annotate = traced("annotate", pipe.annotate)  # type: ignore[method-assign]
        overlapped, snapshots = [], []
        for result in pipe.run(source(), overlap=True):
            # the caller's loop body runs while later frames are in flight
            overlapped.append(result)
            snapshots.append([p.vertices.copy() for p in result.people])
        assert not stage_threads()  # the run joined its threads when it ended
    main = threading.current_thread().name
    assert threads == {"source": {"decode"}, "infer": {"infer"}, "annotate": {main}}
    assert [r.index for r in overlapped] == list(range(NUM_FRAMES))
    for result, snapshot in zip(overlapped, snapshots, strict=True):  # not changed later on
        assert len(result.people) == len(snapshot)
        for p, v in zip(result.people, snapshot, strict=True):
            np.testing.assert_array_equal(p.vertices, v)
    assert_same_results(overlapped, sequential)
    # both the detector and the tracker's prediction were used along the way
    assert {r.detected for r in overlapped} == {True, False}
    assert all(r.people for r in overlapped)
    for frame, original, a, b in zip(frames, originals, overlapped, sequential, strict=True):
        assert a.annotated is not None and a.annotated.shape == frame.image.shape
        assert a.annotated.dtype == np.uint8
        assert not np.array_equal(a.annotated, original)  # the layers drew something
        # the same drawing as the sequential run (rounding may flip a few edge pixels)
        assert np.mean(a.annotated != b.annotated) < 1e-3, a.index
        assert a.latency_ms["render"] > 0
        np.testing.assert_array_equal(frame.image, original)  # the input was not drawn on


def test_overlap_without_layers_leaves_annotated_empty(
    tiny_model: Path, frames: list[Frame]
) -> None:
    with Pipeline(config(tiny_model, layers="")) as pipe:
        results = list(pipe.run(frames[:4], overlap=True))
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert all(r.annotated is None and r.people for r in results)


def test_breaking_out_of_the_overlap_loop_stops_its_threads(
    tiny_model: Path, frames: list[Frame]
) -> None:
    closed = []

    def source() -> Iterator[Frame]:
        try:
            while True:  # endless: only closing the run can end it
                yield from frames
        finally:
            closed.append(True)

    with Pipeline(config(tiny_model, layers="")) as pipe:
        seen = []
        for result in pipe.run(source(), overlap=True):
            seen.append(result.index)
            if len(seen) == 3:
                break
        assert no_stage_threads_left(), stage_threads()
        assert closed == [True]  # the frame source was closed too
        # the pipeline is still usable afterwards
        assert pipe.process(frames[5]).index == 5
    assert seen == [0, 1, 2]


def test_source_error_reaches_the_caller_after_the_frames_before_it(
    tiny_model: Path, frames: list[Frame]
) -> None:
    def source() -> Iterator[Frame]:
        yield from frames[:3]
        raise OSError("camera unplugged")

    with Pipeline(config(tiny_model)) as pipe:
        seen = []
        with pytest.raises(OSError, match="camera unplugged"):
            for result in pipe.run(source(), overlap=True):
                seen.append(result)
        assert [r.index for r in seen] == [0, 1, 2]
        assert all(r.annotated is not None for r in seen)
        assert no_stage_threads_left(), stage_threads()


def test_infer_then_annotate_equals_process(tiny_model: Path, frames: list[Frame]) -> None:
    with Pipeline(config(tiny_model)) as pipe:
        processed = [pipe.process(f) for f in frames[:4]]
    with Pipeline(config(tiny_model)) as pipe:
        split = []
        for f in frames[:4]:
            result = pipe.infer(f)
            assert result.annotated is None and result.latency_ms["render"] == 0.0
            assert pipe.annotate(f, result) is result
            assert result.annotated is not None and result.latency_ms["render"] > 0
            split.append(result)
    assert_same_results(split, processed)
    for a, b in zip(split, processed, strict=True):
        assert np.mean(a.annotated != b.annotated) < 1e-3
