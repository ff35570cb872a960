"""End-to-end speed of the MeshPose Live pipeline against BlazePose-full, in the same run.

    python -m meshpose_core.bench pipeline [--video CLIP] [--model PATH] [--crowd IMAGE]

Scenes: the clip (default: the bundled one-person sample), the three-person test photo
repeated as a clip, and optionally ``--crowd IMAGE`` repeated (e.g. five or more people).
Both pipelines decode the same H.264 clip, draw their result and encode H.264 (the same
``VideoSink``), so the figures are frames per second of the whole loop, capture to file, in
two modes run alike for both: ``sequential`` (each frame decoded, inferred, drawn and encoded
before the next is read) and ``overlap`` (decoding and inference of the next frames run in
background threads while the caller draws and encodes, ``Pipeline.run(overlap=True)``):

* MeshPose Live: ``Pipeline`` with the chosen layers (default mesh, keypoints, boxes, HUD);
* BlazePose-full as MediaPipe runs it: the SSD detector gives a ROI, the landmark model runs
  on it, its auxiliary hip / scale landmarks give the next frame's ROI; the detector runs
  again only when a person is lost; the COCO subset of the landmarks is drawn as a skeleton.

Each pipeline runs ``--repeat`` times (default 3), interleaved with the others, and the run
of median FPS is reported with the range: a shared 2-core VM drifts by ~10 % between runs.
The "CPU ms" column is the process's CPU time per counted frame, every thread included
(decoder, runtime workers, encoder): the work a frame costs, which scheduling and a busy
neighbour move far less than FPS.

Without trained weights a random-init XS checkpoint is used: speed does not depend on the
weight values, but random meshes cannot steer the tracker, so mesh refinement is off then
(boxes come from the Kalman prediction between detector runs, as they would with weights,
at about the same cost). The CPU is shared on a dev box: the load average is printed.
"""

from __future__ import annotations

import itertools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from meshpose_core.data.real.joints import BLAZEPOSE_TO_COCO
from meshpose_core.detection import DEFAULT_PERSON_DETECTOR, BlazePoseDetector, RotatedRoi
from meshpose_core.detection.roi import roi_from_keypoints
from meshpose_core.model.checkpoint import save_checkpoint
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet
from meshpose_core.pipeline import (
    STAGES,
    FrameResult,
    MotionGateConfig,
    NetworkConfig,
    Pipeline,
    PipelineConfig,
    RenderConfig,
    TrackerConfig,
    VideoSink,
    VideoSource,
    parse_layers,
)
from meshpose_core.pipeline.layers import DEFAULT_LAYERS, draw_skeleton
from meshpose_core.pipeline.network import DEFAULT_MODEL, ModelUnavailable, model_path
from meshpose_core.pipeline.prefetch import staged
from meshpose_core.pipeline.sources import Frame, read_image
from meshpose_core.resources import asset_path

SAMPLE_CLIP = asset_path("samples", "gym_run.mp4")
STREET = asset_path("test_images", "coco_000000252219_street.jpg")
LANDMARK_MODEL = asset_path("blazepose", "pose_landmark_full.tflite")
LANDMARK_INPUT = 256
WARMUP_FRAMES = 5
MODES = ("sequential", "overlap")


@dataclass
class RunStats:
    """Figures of one pipeline on one scene; ``stages`` in mean ms per frame."""

    pipeline: str
    scene: str
    layers: str = ""
    mode: str = "sequential"
    frame_ms: list[float] = field(default_factory=list)  # capture start to frame encoded
    stages: dict[str, list[float]] = field(default_factory=dict)
    people: list[int] = field(default_factory=list)
    wall_s: float = 0.0  # wall time of the counted frames
    cpu_s: float = 0.0  # CPU time of the whole process (every thread) over the same frames

    def add(self, total_ms: float, stages: dict[str, float], people: int) -> None:
        self.frame_ms.append(total_ms)
        self.people.append(people)
        for k, v in stages.items():
            self.stages.setdefault(k, []).append(v)

    @property
    def fps(self) -> float:
        """Frames per second of wall time (overlapped frames' latencies overlap too)."""
        return len(self.frame_ms) / max(self.wall_s, 1e-9)

    @property
    def cpu_ms(self) -> float:
        """CPU time per frame, all threads (decoder, runtimes, encoder): the work a frame
        costs whatever the scheduling; on a busy machine FPS follows it, not the latencies."""
        return self.cpu_s * 1e3 / max(len(self.frame_ms), 1)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.frame_ms, q))

    def mean(self, stage: str) -> float:
        values = self.stages.get(stage)
        return statistics.fmean(values) if values else 0.0


class BlazePoseFull:
    """MediaPipe's single-model pose pipeline for several people: detector -> ROI ->
    landmark model -> ROI of the next frame from the auxiliary landmarks 33 / 34."""

    def __init__(self, detector: BlazePoseDetector, threads: int, max_people: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.detector = detector
        self.max_people = max_people
        self.interpreter = Interpreter(model_path=str(LANDMARK_MODEL), num_threads=threads)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]["index"]
        outputs = {tuple(d["shape"]): d["index"] for d in self.interpreter.get_output_details()}
        self._landmarks, self._flag = outputs[(1, 195)], outputs[(1, 1)]
        self.rois: list[RotatedRoi] = []
        self._expected = 0

    def landmarks(self, image: np.ndarray, roi: RotatedRoi) -> tuple[np.ndarray, float]:
        """-> (39, 5) landmarks (x, y image px; z; visibility and presence logits), presence."""
        crop = cv2.warpAffine(
            image, roi.warp_matrix(LANDMARK_INPUT), (LANDMARK_INPUT, LANDMARK_INPUT)
        )
        self.interpreter.set_tensor(self._input, (crop.astype(np.float32) / 255.0)[None])
        self.interpreter.invoke()
        lm = self.interpreter.get_tensor(self._landmarks)[0].reshape(39, 5).copy()
        m = roi.crop_to_image(LANDMARK_INPUT)
        lm[:, :2] = lm[:, :2] @ m[:, :2].T + m[:, 2] - 0.5  # continuous -> pixel centres
        return lm, float(self.interpreter.get_tensor(self._flag)[0, 0])

    def step(self, image: np.ndarray, lat: dict[str, float]) -> list[np.ndarray]:
        """One frame -> (17, 3) COCO keypoints per person; fills detect / network / track."""
        if len(self.rois) < self._expected or not self.rois:
            t = time.perf_counter()
            dets = self.detector.detect(image)[: self.max_people]
            lat["detect"] = (time.perf_counter() - t) * 1e3
            self.rois, self._expected = [d.roi() for d in dets], len(dets)
        people, rois, net_ms, t = [], [], 0.0, time.perf_counter()
        for roi in self.rois:
            t_net = time.perf_counter()
            lm, presence = self.landmarks(image, roi)
            net_ms += (time.perf_counter() - t_net) * 1e3
            if presence < 0.5:
                continue
            score = 1.0 / (1.0 + np.exp(-lm[BLAZEPOSE_TO_COCO, 3:4]))
            people.append(np.concatenate([lm[BLAZEPOSE_TO_COCO, :2], score], axis=1))
            rois.append(roi_from_keypoints(lm[33, :2] + 0.5, lm[34, :2] + 0.5))
        self.rois = rois
        lat["network"] = net_ms
        lat["track"] = (time.perf_counter() - t) * 1e3 - net_ms
        return people


def clip_from_image(image_path: Path, frames: int, width: int, out: Path) -> Path:
    """An H.264 clip of one photo resized to ``width``, repeated (30 fps)."""
    image = read_image(image_path)
    h, w = image.shape[:2]
    size = (width, 2 * round(h * width / w / 2))
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    with VideoSink(out, size[0], size[1], 30.0) as sink:
        for _ in range(frames):
            sink.write(image)
    return out


Infer = Callable[[Frame, float], Any]
Annotate = Callable[[Frame, Any], tuple[np.ndarray | None, dict[str, float], int]]


def time_stream(
    clip: Path,
    frames: int,
    out: Path,
    stats: RunStats,
    infer: Infer,
    annotate: Annotate,
    encode: bool = True,
) -> RunStats:
    """The timed loop both pipelines share: capture, ``infer(frame, capture_ms)`` -> state,
    ``annotate(frame, state)`` -> (annotated frame, stage latency ms, people), then H.264
    encoding (``encode``; else the annotated frame is ready for a display). ``stats.mode``
    "overlap" runs capture and inference ahead in two background threads (``staged``, as
    ``Pipeline.stream(overlap=True)`` does); warm-up frames are not counted."""
    with VideoSource(clip) as source:
        sink: VideoSink | None = None
        clip_frames = itertools.islice(source, frames + WARMUP_FRAMES)
        inferred = staged(clip_frames, infer, overlap=stats.mode == "overlap")
        wall_start = time.perf_counter()
        cpu_start = time.process_time()
        try:
            for i, (frame, t0, _, state) in enumerate(inferred):
                annotated, lat, people = annotate(frame, state)
                t = time.perf_counter()
                if annotated is not None and encode:
                    if sink is None:
                        sink = VideoSink(out, frame.width, frame.height, source.fps)
                    sink.write(annotated)
                done = time.perf_counter()
                if i >= WARMUP_FRAMES:
                    stats.add((done - t0) * 1e3, {**lat, "sink": (done - t) * 1e3}, people)
                elif i == WARMUP_FRAMES - 1:
                    wall_start, cpu_start = done, time.process_time()
            stats.wall_s = time.perf_counter() - wall_start
            stats.cpu_s = time.process_time() - cpu_start
        finally:
            inferred.close()  # stops the background threads before the source closes
            if sink is not None:
                sink.close()
    return stats


def run_meshpose(
    clip: Path, config: PipelineConfig, frames: int, tmp: Path, mode: str, encode: bool = True
) -> RunStats:
    layers = ",".join(name for name, _ in config.render.layers) or "none"
    stats = RunStats("MeshPose", clip.stem, layers, mode)
    with Pipeline(config) as pipe:

        def annotate(frame: Frame, result: FrameResult) -> tuple:
            pipe.annotate(frame, result)
            return result.annotated, result.latency_ms, len(result.people)

        time_stream(clip, frames, tmp / "meshpose.mp4", stats, pipe.infer, annotate, encode)
        painter = pipe.renderer.painter_in_use if pipe.renderer is not None else None
        painted = f", {painter} mesh painter" if painter else ""
        stats.pipeline = f"MeshPose {pipe.network.name} [{layers}{painted}]"
    return stats


def run_blazepose(
    clip: Path, config: PipelineConfig, frames: int, tmp: Path, mode: str, encode: bool = True
) -> RunStats:
    stats = RunStats("BlazePose-full (LiteRT) [skeleton]", clip.stem, "skeleton", mode)
    detector = BlazePoseDetector(config.detector)
    model = BlazePoseFull(detector, config.network.threads, config.tracker.max_tracks)

    def infer(frame: Frame, capture_ms: float) -> tuple[dict[str, float], list[np.ndarray]]:
        lat = dict.fromkeys(STAGES, 0.0)
        lat["capture"] = capture_ms
        return lat, model.step(frame.image, lat)

    def annotate(frame: Frame, state: tuple[dict[str, float], list[np.ndarray]]) -> tuple:
        lat, people = state
        t = time.perf_counter()
        out = frame.image.copy()
        for kp in people:
            draw_skeleton(out, kp, np.array([66, 135, 245]), 0.5)
        lat["render"] = (time.perf_counter() - t) * 1e3
        return out, lat, len(people)

    return time_stream(clip, frames, tmp / "blazepose.mp4", stats, infer, annotate, encode)


def resolve_model(model: str | None, tmp: Path) -> tuple[str, bool]:
    """-> (model path or name, whether it is a random-init stand-in)."""
    if model is not None:
        return model, False
    try:
        return str(model_path(DEFAULT_MODEL)), False
    except ModelUnavailable:
        path = tmp / "meshpose_xs_random.safetensors"
        save_checkpoint(MeshPoseNet(MeshPoseConfig.preset("xs")), path, {"weights": "random"})
        return str(path), True


def bench_config(
    weights: str,
    random_init: bool,
    tmp: Path,
    threads: int,
    max_people: int,
    detect_every: int,
    always_detect: bool,
    render: RenderConfig,
) -> PipelineConfig:
    """The pipeline as the benchmarks run it (``resolve_model``'s weights)."""
    # a random stand-in gets a new hash every run: keep its ONNX export out of the cache
    cache = str(tmp) if random_init else None
    config = PipelineConfig(
        network=NetworkConfig(model=weights, threads=threads, cache_dir=cache),
        tracker=TrackerConfig(
            detect_every=detect_every, max_tracks=max_people, refine_from_mesh=not random_init
        ),
        motion=MotionGateConfig(enabled=not always_detect),
        render=render,
    )
    return replace(
        config,
        detector=replace(config.detector, num_threads=threads),
        yolox=replace(config.yolox, num_threads=threads),
    )


def median_run(runs: list[RunStats]) -> RunStats:
    """The run of median FPS (its own stage figures, not a mix of runs)."""
    return sorted(runs, key=lambda s: s.fps)[(len(runs) - 1) // 2]


def fps_range(runs: list[RunStats]) -> str:
    fps = sorted(s.fps for s in runs)
    return f"{fps[0]:.1f}-{fps[-1]:.1f}" if len(fps) > 1 else f"{fps[0]:.1f}"


def format_table(results: list[tuple[list[list[RunStats]], list[RunStats]]]) -> str:
    """Markdown table of the median run of every pipeline (with the FPS range of its
    repeats), then MeshPose / BlazePose FPS ratios per scene: of the medians, and the range
    over the repeats (each MeshPose run against the BlazePose run beside it); then the ratios
    of CPU time per frame."""
    cols = [*STAGES, "sink"]
    head = "| scene | mode | pipeline | people | FPS | FPS range | p50 ms | p95 ms | CPU ms | "
    lines = [head + " | ".join(cols) + " |", "|" + " --- |" * (9 + len(cols))]
    ratios, cpu_ratios = [], []
    for meshpose, blazepose in results:
        base = median_run(blazepose)
        for runs in [*meshpose, blazepose]:
            s = median_run(runs)
            stage = " | ".join(f"{s.mean(k):.1f}" for k in cols)
            lines.append(
                f"| {s.scene} | {s.mode} | {s.pipeline} | {statistics.fmean(s.people):.1f} | "
                f"{s.fps:.1f} | {fps_range(runs)} | {s.percentile(50):.1f} | "
                f"{s.percentile(95):.1f} | {s.cpu_ms:.1f} | {stage} |"
            )
        for runs in meshpose:
            s = median_run(runs)
            paired = sorted(a.fps / b.fps for a, b in zip(runs, blazepose, strict=True))
            spread = f" ({paired[0]:.2f}-{paired[-1]:.2f})" if len(paired) > 1 else ""
            ratios.append(f"{s.scene} {s.mode} [{s.layers}]: {s.fps / base.fps:.2f}x{spread}")
            cpu = statistics.median(r.cpu_ms for r in runs)
            base_cpu = statistics.median(r.cpu_ms for r in blazepose)
            cpu_ratios.append(f"{s.scene} {s.mode} [{s.layers}]: {cpu / max(base_cpu, 1e-9):.2f}x")
    return (
        "\n".join(lines)
        + "\n\nMeshPose FPS / BlazePose-full FPS: "
        + ", ".join(ratios)
        + "\n\nMeshPose CPU time per frame / BlazePose-full's (medians of the repeats): "
        + ", ".join(cpu_ratios)
    )


def run(
    video: Path | None = None,
    model: str | None = None,
    crowd: Path | None = None,
    frames: int = 100,
    layers: str = DEFAULT_LAYERS,
    threads: int = 2,
    max_people: int = 5,
    detect_every: int | None = None,
    modes: tuple[str, ...] = MODES,
    repeat: int = 3,
    mesh_painter: str = "auto",
    always_detect: bool = False,
    detector: str = DEFAULT_PERSON_DETECTOR,
    yolox_size: int = 416,
) -> str:
    """Run every scene with both pipelines (MeshPose with ``layers`` and with the skeleton
    only, like BlazePose's drawing), ``repeat`` times interleaved; prints and returns the
    report of the median runs."""
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        weights, random_init = resolve_model(model, tmp)
        if detect_every is None:  # random meshes cannot steer the boxes between detections
            detect_every = 3 if random_init else TrackerConfig.detect_every
        config = bench_config(
            weights, random_init, tmp, threads, max_people, detect_every, always_detect,
            RenderConfig(layers=parse_layers(layers), mesh_painter=mesh_painter),
        )  # fmt: skip
        config = replace(
            config,
            person_detector=detector,
            yolox=replace(config.yolox, input_size=yolox_size),
        )
        variants = [config]
        if layers != "keypoints":
            variants.append(replace(config, render=RenderConfig(layers=parse_layers("keypoints"))))
        scenes = [video or SAMPLE_CLIP, clip_from_image(STREET, frames, 640, tmp / "street.mp4")]
        if crowd is not None:
            scenes.append(clip_from_image(crowd, frames, 640, tmp / f"{crowd.stem}.mp4"))
        load_before = os.getloadavg()
        results = []
        for clip in scenes:
            for mode in modes:
                # interleaved repeats: a slow spell of a shared machine hits every pipeline
                meshpose: list[list[RunStats]] = [[] for _ in variants]
                baseline: list[RunStats] = []
                for _ in range(repeat):
                    meshpose[0].append(run_meshpose(clip, variants[0], frames, tmp, mode))
                    baseline.append(run_blazepose(clip, config, frames, tmp, mode))
                    for runs, v in zip(meshpose[1:], variants[1:], strict=True):
                        runs.append(run_meshpose(clip, v, frames, tmp, mode))
                results.append((meshpose, baseline))
                print(f"  measured {clip.stem} ({mode})", flush=True)
        load_after = os.getloadavg()
    notes = [
        f"MeshPose model: {weights}"
        + (
            " (random-init XS: no trained weights yet; speed does not depend on the weight "
            "values; mesh refinement of the tracker off)"
            if random_init
            else ""
        ),
        f"MeshPose layers: [{layers or 'none'}] and [keypoints]; "
        f"MeshPose's person detector: {detector}"
        + (f" {yolox_size}" if detector == "yolox" else f" (windows={config.detector.windows})")
        + f"; detector every {detect_every} frames"
        + ("" if always_detect else " (skipped while nothing moves outside the people)")
        + "; "
        f"{threads} threads; max {max_people} people; "
        f"{frames} frames per run after {WARMUP_FRAMES} warm-up, {repeat} runs interleaved "
        "(median shown); H.264 encoding included",
        f"machine: {os.cpu_count()} CPUs; load average before {load_before[0]:.2f}, "
        f"after {load_after[0]:.2f} (1 min)",
    ]
    report = "\n".join(notes) + "\n\n" + format_table(results)
    print(report)
    return report
