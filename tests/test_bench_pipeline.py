"""The pipeline benchmark's report: median of interleaved repeats, ratios paired run by run."""

from __future__ import annotations

from meshpose_core.bench.pipeline_bench import RunStats, format_table, median_run


def runs(name: str, fps: list[float], render_ms: list[float]) -> list[RunStats]:
    out = []
    for f, r in zip(fps, render_ms, strict=True):
        s = RunStats(name, "clip", "mesh", "sequential")
        for _ in range(10):
            s.add(1000.0 / f, {"render": r}, 1)
        s.wall_s = 10 / f
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
    # medians 90 / 90; run by run 80/100, 90/90, 100/80
    assert "clip sequential [mesh]: 1.00x (0.80-1.25)" in table
