"""The pipeline benchmark's report: median of interleaved repeats, ratios paired run by run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from meshpose_core.bench.pipeline_bench import (
    WARMUP_FRAMES,
    RunStats,
    format_table,
    median_run,
    time_stream,
)
from meshpose_core.pipeline import VideoSink


def runs(name: str, fps: list[float], render_ms: list[float]) -> list[RunStats]:
    out = []
    for f, r in zip(fps, render_ms, strict=True):
        s = RunStats(name, "clip", "mesh", "sequential")
        for _ in range(10):
            s.add(1000.0 / f, {"render": r}, 1)
        s.wall_s = 10 / f
        s.cpu_s = 10 * 1.5 / f  # 1.5 cores busy
        out.append(s)
    return out


def test_median_run_keeps_its_own_stage_figures() -> None:
    rs = runs("a", [50.0, 70.0, 60.0], [3.0, 1.0, 2.0])
    m = median_run(rs)
    assert round(m.fps) == 60 and m.mean("render") == 2.0
    assert median_run(rs[:2]).fps == min(r.fps for r in rs[:2])  # even count: the lower one


def test_table_reports_medians_ranges_and_paired_ratios() -> None:
    mesh = runs("MeshPose [mesh]", [80.0, 90.0, 100.0], [2.0, 2.0, 2.0])
    base = runs("BlazePose", [100.0, 90.0, 80.0], [0.3, 0.3, 0.3])
    table = format_table([([mesh], base)])
    assert "| 90.0 | 80.0-100.0 |" in table
    assert "| CPU ms |" in table.splitlines()[0]
    assert "| 16.7 |" in table  # 1.5 cores over 90 FPS: 16.7 ms of CPU a frame
    # medians 90 / 90; run by run 80/100, 90/90, 100/80
    assert "clip sequential [mesh]: 1.00x (0.80-1.25)" in table
    # CPU a frame: 1.5 / 90 against 1.5 / 90 s (medians of the repeats)
    assert table.endswith(
        "per frame / BlazePose-full's (medians of the repeats): clip sequential [mesh]: 1.00x"
    )


@pytest.mark.parametrize("mode", ["sequential", "overlap"])
def test_time_stream_counts_cpu_of_the_counted_frames(tmp_path: Path, mode: str) -> None:
    clip = tmp_path / "clip.mp4"
    with VideoSink(clip, 64, 48, 30.0) as sink:
        for i in range(WARMUP_FRAMES + 6):
            sink.write(np.full((48, 64, 3), 10 * i, np.uint8))
    rng = np.random.default_rng(0)

    def annotate(frame, state):  # a few ms of CPU a frame
        for _ in range(20):
            np.linalg.svd(rng.standard_normal((60, 60)))
        return frame.image, {}, 0

    stats = time_stream(
        clip,
        6,
        tmp_path / "out.mp4",
        RunStats("p", "clip", mode=mode),
        lambda f, ms: None,
        annotate,
    )
    assert len(stats.frame_ms) == 6
    assert stats.cpu_s > 0.0
    assert stats.cpu_s <= stats.wall_s * (os.cpu_count() or 1) * 1.05 + 0.01
    assert stats.cpu_ms == pytest.approx(stats.cpu_s * 1e3 / 6)
