"""Speed of every layer at webcam sizes against BlazePose-full, and latency at a camera's pace.

    python -m meshpose_core.bench layers [--sizes 640x480,1280x720] [--frames 60]
    python -m meshpose_core.bench paced [--sizes 640x480] [--fps 30,60]

Scenes, generated from shipped media so that they run anywhere: "1 person" is the bundled
sample clip (``assets/samples/gym_run.mp4``), "3 people" the three-person test photo
repeated (below 960 px wide) or three copies of the clip side by side (see
``scene_images``); scaled to cover each size and centre-cropped.

``layers``: for each size and scene, the MeshPose pipeline with each layer alone (mesh,
visibility, IUV, garment, skeleton) and with mesh + visibility + garment + skeleton, and
BlazePose-full (``pipeline_bench.BlazePoseFull``) on the same clip in the same run, all
through ``pipeline_bench.time_stream`` (H.264 decoding, sequential mode); frames per second
to the annotated frame (ready for a display; ``--encode`` adds H.264 encoding as the CLI's
``--out``), the mean render stage and the CPU time per frame.

``layers --render``: the render stage alone, timed on the people the pipeline found (median
and best round's median; ``--painters auto,gl,cpu`` compares the painters).

``paced``: a ``pacing.PacedSource`` delivers the scene at the camera's rate (30 and 60 FPS)
for ``--frames`` frames; per frame, capture to annotated frame ready (p50 / p95 / max ms)
and the camera frames dropped, in sequential, overlap and "auto" mode (what the CLI's
``--webcam`` runs: ``pacing.pick_mode`` after a sequential probe).

The CPU is shared on a dev box: the load average is printed with the figures.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from meshpose_core.pipeline import (
    Pipeline,
    PipelineConfig,
    RenderConfig,
    TrackerConfig,
    VideoSink,
    VideoSource,
)
from meshpose_core.pipeline.layers import LayerRenderer, parse_layers
from meshpose_core.pipeline.pacing import PacedSource, PacedStats
from meshpose_core.pipeline.results import PersonResult
from meshpose_core.pipeline.sources import parse_size, read_image
from meshpose_core.timing import Latency, time_call

from .pipeline_bench import (
    SAMPLE_CLIP,
    STREET,
    RunStats,
    bench_config,
    resolve_model,
    run_blazepose,
    run_meshpose,
)

SIZES = ((640, 480), (1280, 720))
LAYER_SETS: tuple[str, ...] = (
    "mesh",
    "visibility",
    "iuv",
    "garment",
    "keypoints",
    "mesh,visibility,garment,keypoints",
)
OUTFIT = ("striped_tshirt",)
SCENES = ("1 person", "3 people")


def parse_sizes(spec: str) -> tuple[tuple[int, int], ...]:
    """ "640x480,1280x720" -> ((640, 480), (1280, 720)) (``sources.parse_size`` each)."""
    return tuple(parse_size(item) for item in spec.split(","))


def cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, 3) image scaled to cover ``width`` x ``height`` and centre-cropped to it."""
    h, w = image.shape[:2]
    k = max(width / w, height / h)
    size = (max(round(w * k), width), max(round(h * k), height))
    scaled = cv2.resize(image, size, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    y0, x0 = (size[1] - height) // 2, (size[0] - width) // 2
    return np.ascontiguousarray(scaled[y0 : y0 + height, x0 : x0 + width])


def scene_images(scene: str, width: int, height: int, count: int) -> list[np.ndarray]:
    """``count`` RGB frames (height, width, 3) uint8 of a scene (the clip cycles).

    "3 people" is the three-person photo below 960 px wide; wider, three copies of the
    clip side by side (at different times): the detector finds only two of the photo's
    people at 1280x720, and each copy of the clip is found there (not at 640 px, where
    they are too small)."""
    if scene == "3 people" and width < 960:
        return [cover(read_image(STREET), width, height)] * count
    with VideoSource(SAMPLE_CLIP) as source:
        clip = [f.image for f in source]
    if scene != "3 people":
        return [cover(clip[i % len(clip)], width, height) for i in range(count)]
    cell = width // 3
    out = []
    for i in range(count):
        row = np.zeros((height, width, 3), np.uint8)
        for k in range(3):
            row[:, k * cell : (k + 1) * cell] = cover(clip[(i + 13 * k) % len(clip)], cell, height)
        out.append(row)
    return out


def scene_clip(scene: str, width: int, height: int, count: int, out: Path) -> Path:
    """The scene as an H.264 clip (30 FPS), for ``time_stream``."""
    with VideoSink(out, width, height, 30.0) as sink:
        for image in scene_images(scene, width, height, count):
            sink.write(image)
    return out


@contextlib.contextmanager
def _setup(
    model: str | None, threads: int, render: RenderConfig
) -> Iterator[tuple[PipelineConfig, Path, list[str]]]:
    """(pipeline config as the benchmarks run it, a temporary folder, report notes)."""
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        weights, random_init = resolve_model(model, tmp)
        every = 3 if random_init else TrackerConfig.detect_every
        config = bench_config(weights, random_init, tmp, threads, 5, every, False, render)
        note = f"MeshPose model: {weights}" + (" (random-init XS)" if random_init else "")
        yield config, tmp, [note, f"before: {_load()}"]


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs"


def run_layers(
    sizes: tuple[tuple[int, int], ...] = SIZES,
    frames: int = 60,
    model: str | None = None,
    threads: int = 2,
    encode: bool = False,
    layer_sets: tuple[str, ...] = LAYER_SETS,
) -> str:
    """Prints and returns the markdown table of ``layers`` (see the module docstring)."""
    lines = [
        "| size | scene | people | pipeline | FPS | render ms | p95 ms | CPU ms | "
        "BlazePose-full FPS | ratio |",
        "|" + " --- |" * 10,
    ]
    with _setup(model, threads, RenderConfig(outfits=(OUTFIT,))) as (base_config, tmp, notes):
        for width, height in sizes:
            for scene in SCENES:
                clip = scene_clip(scene, width, height, frames + 10, tmp / "scene.mp4")
                base = run_blazepose(clip, base_config, frames, tmp, "sequential", encode)
                for spec in layer_sets:
                    config = _with_layers(base_config, spec)
                    s = run_meshpose(clip, config, frames, tmp, "sequential", encode)
                    lines.append(_row(f"{width}x{height}", scene, s, spec, base))
                lines.append(_row(f"{width}x{height}", scene, base, "BlazePose-full", base))
                print(f"  measured {width}x{height} {scene}", flush=True)
        notes.append(f"after: {_load()}")
    notes.append(
        f"{frames} frames per run after 5 warm-up, sequential mode, H.264 decoding"
        + (" and encoding" if encode else " (no encoding: frames ready for a display)")
    )
    report = "\n".join(notes) + "\n\n" + "\n".join(lines)
    print(report)
    return report


def _with_layers(config: PipelineConfig, spec: str) -> PipelineConfig:
    return replace(config, render=replace(config.render, layers=parse_layers(spec)))


def _row(size: str, scene: str, s: RunStats, name: str, base: RunStats) -> str:
    people = statistics.fmean(s.people) if s.people else 0.0
    return (
        f"| {size} | {scene} | {people:.1f} | {name} | {s.fps:.1f} | {s.mean('render'):.1f} | "
        f"{s.percentile(95):.1f} | {s.cpu_ms:.1f} | {base.fps:.1f} | {s.fps / base.fps:.2f} |"
    )


def scene_people(
    config: PipelineConfig, images: list[np.ndarray], frames: int = 12
) -> list[PersonResult]:
    """The people the pipeline finds in the last of the first ``frames`` images (each
    (H, W, 3) uint8 RGB), tracked."""
    with Pipeline(replace(config, render=replace(config.render, layers=()))) as pipe:
        result = None
        for image in images[:frames]:
            result = pipe.process(image)
        return [] if result is None else result.people


def run_render(
    sizes: tuple[tuple[int, int], ...] = SIZES,
    model: str | None = None,
    threads: int = 2,
    layer_sets: tuple[str, ...] = LAYER_SETS,
    painters: tuple[str, ...] = ("auto",),
) -> str:
    """The render stage alone (``LayerRenderer.render`` on the people the pipeline found in
    each scene), per layer set and painter: median and best round's median ms
    (``timing.time_call``), the figure a loaded machine disturbs least."""
    lines = [
        "| size | scene | people | layers | painter | render ms (median) | best round ms |",
        "|" + " --- |" * 7,
    ]
    with _setup(model, threads, RenderConfig(outfits=(OUTFIT,))) as (config, _, notes):
        for width, height in sizes:
            for scene in SCENES:
                images = scene_images(scene, width, height, 12)
                people = scene_people(config, images)
                for spec in layer_sets:
                    for painter in painters:
                        cfg = RenderConfig(
                            layers=parse_layers(spec), mesh_painter=painter, outfits=(OUTFIT,)
                        )
                        t = _time_render(cfg, images[-1], people)
                        lines.append(
                            f"| {width}x{height} | {scene} | {len(people)} | {spec} | "
                            f"{painter} | {t.median_ms:.1f} | {t.best_round_ms:.1f} |"
                        )
                print(f"  measured {width}x{height} {scene}", flush=True)
        notes.append(f"after: {_load()}")
    report = "\n".join(notes) + "\n\n" + "\n".join(lines)
    print(report)
    return report


def _time_render(config: RenderConfig, image: np.ndarray, people: list[PersonResult]) -> Latency:
    renderer = LayerRenderer(config)
    try:
        return time_call(lambda: renderer.render(image, people), rounds=3, iters=10)
    finally:
        renderer.close()


def paced_run(
    config: PipelineConfig, images: list[np.ndarray], fps: float, mode: str, frames: int
) -> PacedStats:
    """One pipeline fed by a camera at ``fps`` in ``mode`` (sequential, overlap, auto) with
    ``images`` (each (H, W, 3) uint8 RGB)."""
    stats = PacedStats(mode, fps)
    with Pipeline(config) as pipe:
        for image in images[:5]:  # warm-up: first calls, compiled loops, buffers
            pipe.process(image)
        pipe.reset()
        source = PacedSource(images, fps, frames)
        overlap: bool | str = {"sequential": False, "overlap": True}.get(mode, "auto")
        results = pipe.stream(source, overlap)
        try:
            for frame, _ in results:
                stats.latency_ms.append((time.perf_counter() - source.captured_at(frame)) * 1e3)
        finally:
            results.close()
        # a frame is dropped by the camera (the reader late) or skipped for a newer one
        stats.delivered = len(stats.latency_ms)
        stats.dropped = source.frame_count - stats.delivered
        if mode == "auto":
            stats.mode = f"auto ({pipe.stream_mode})"
    return stats


def run_paced(
    sizes: tuple[tuple[int, int], ...] = ((640, 480),),
    rates: tuple[float, ...] = (30.0, 60.0),
    frames: int = 150,
    layers: str = "mesh,keypoints,boxes,hud",
    model: str | None = None,
    threads: int = 2,
    scenes: tuple[str, ...] = ("1 person",),
) -> str:
    """Prints and returns the markdown table of ``paced`` (see the module docstring)."""
    lines = [
        "| size | scene | camera FPS | mode | p50 ms | p95 ms | max ms | delivered | dropped |",
        "|" + " --- |" * 9,
    ]
    render = RenderConfig(layers=parse_layers(layers), outfits=(OUTFIT,))
    with _setup(model, threads, render) as (config, _, notes):
        notes.append(f"layers [{layers}]")
        for width, height in sizes:
            for scene in scenes:
                images = scene_images(scene, width, height, 120)
                for fps in rates:
                    for mode in ("sequential", "overlap", "auto"):
                        s = paced_run(config, images, fps, mode, frames)
                        lines.append(
                            f"| {width}x{height} | {scene} | {fps:g} | {s.mode} | "
                            f"{s.percentile(50):.1f} | {s.percentile(95):.1f} | "
                            f"{max(s.latency_ms):.1f} | {s.delivered} | {s.dropped} |"
                        )
                    print(f"  measured {width}x{height} {scene} at {fps:g} FPS", flush=True)
        notes.append(f"after: {_load()}; {frames} camera frames per run")
    report = "\n".join(notes) + "\n\n" + "\n".join(lines)
    print(report)
    return report
