"""Jitter against lag of the mesh smoothing: ``python -m meshpose_core.bench smoothing``.

Each clip runs through the pipeline at every smoothing strength. For the person followed
longest: *jitter* = mean vertex acceleration |v(t+1) - 2 v(t) + v(t-1)| (x, y of the 518
vertices, consecutive frames of that track) in thousandths of the body's height per frame²;
*lag* = the shift (frames, 0.1 steps, linear interpolation) that best aligns the smoothed
body centre's path with the unsmoothed run's, and the mean distance left between the two
paths at shift 0, in thousandths of the body's height. A slow clip shows the jitter removed,
a fast one the lag it costs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from meshpose_core.data.real.paths import DEFAULT_SHARED_ROOT
from meshpose_core.pipeline import Pipeline, PipelineConfig
from meshpose_core.pipeline.layers import RenderConfig
from meshpose_core.pipeline.smoothing import SmoothingConfig
from meshpose_core.pipeline.sources import VideoSource

CLIPS = (
    "train/videos/stgcn_kinetics_taichi_wall.mp4",  # slow
    "train/videos/askanything_kinetics_yoga.mp4",  # slow to medium
    "train/videos/motionx_sprint_run.mp4",  # fast
    "train/videos/askanything_dance_basketball.mp4",  # fast
)


def track_path(clip: Path, config: PipelineConfig, frames: int) -> dict[int, np.ndarray]:
    """frame index -> (518, 2) vertices of the track seen in most frames."""
    per_track: dict[int, dict[int, np.ndarray]] = {}
    with Pipeline(config) as pipe, VideoSource(clip) as source:
        for frame in itertools.islice(source, frames):
            for p in pipe.process(frame).people:
                per_track.setdefault(p.track_id, {})[frame.index] = p.vertices[:, :2].copy()
    return max(per_track.values(), key=len) if per_track else {}


def jitter_permille(path: dict[int, np.ndarray]) -> float:
    """Mean vertex acceleration over consecutive triples, in ‰ of the body height; ``path``
    maps frame index -> vertices (V, 2) image px."""
    values = []
    for t in path:
        if t - 1 in path and t + 1 in path:
            acc = np.linalg.norm(path[t + 1] - 2 * path[t] + path[t - 1], axis=1).mean()
            values.append(acc / max(float(np.ptp(path[t][:, 1])), 1.0))
    return 1e3 * float(np.mean(values)) if values else float("nan")


def lag(
    smoothed: dict[int, np.ndarray], raw: dict[int, np.ndarray], max_shift: float = 6.0
) -> tuple[float, float]:
    """(frames the smoothed centre path trails the raw one by, mean centre distance at no
    shift in ‰ of the body height) over the frames both runs have; each run maps frame
    index -> vertices (V, 2) image px."""
    common = sorted(set(smoothed) & set(raw))
    if len(common) < 10:
        return float("nan"), float("nan")
    t = np.array(common, float)
    cs = np.array([smoothed[i].mean(0) for i in common])
    cr = np.array([raw[i].mean(0) for i in common])
    height = np.mean([np.ptp(raw[i][:, 1]) for i in common])
    best, best_err = 0.0, np.inf
    for shift in np.arange(0.0, max_shift + 1e-9, 0.1):
        shifted = np.stack([np.interp(t - shift, t, cr[:, k]) for k in range(2)], axis=1)
        valid = t - shift >= t[0]
        err = float(np.linalg.norm(cs[valid] - shifted[valid], axis=1).mean())
        if err < best_err:
            best, best_err = float(shift), err
    distance = float(np.linalg.norm(cs - cr, axis=1).mean()) / max(height, 1.0)
    return best, 1e3 * distance


def run(
    shared: Path | None,
    clips: Sequence[str],
    strengths: Sequence[float],
    frames: int,
    threads: int,
) -> str:
    root = shared or DEFAULT_SHARED_ROOT
    base = PipelineConfig(render=RenderConfig(layers=()))
    base = replace(base, network=replace(base.network, threads=threads))
    lines = [
        f"first {frames} frames; jitter ‰ of body height / frame²; lag frames; distance ‰",
        "",
        "| clip | " + " | ".join(f"smooth {s:g}: jitter, lag, distance" for s in strengths) + " |",
        "| --- |" + " --- |" * len(strengths),
    ]
    for clip in clips:
        paths = {
            s: track_path(root / clip, replace(base, smoothing=SmoothingConfig(strength=s)), frames)
            for s in strengths
        }
        raw = paths[strengths[0]]
        cells = []
        for s in strengths:
            shift, distance = lag(paths[s], raw)
            cells.append(f"{jitter_permille(paths[s]):.1f}, {shift:.1f}, {distance:.1f}")
        lines.append(f"| {Path(clip).stem} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    report = "\n".join(lines)
    print("\n" + report)
    return report
