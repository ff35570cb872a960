"""The pipeline: frame -> detector/tracker -> crops -> network -> image-space meshes -> layers.

``Pipeline(PipelineConfig()).process(frame)`` returns a ``FrameResult`` with every person's
mesh in image pixels, the annotated frame and per-stage latency. ``process`` is ``infer``
(detector, tracker, crops, network, upsampling) then ``annotate`` (the layers), in the
calling thread, which keeps latency per frame minimal and measurable stage by stage.
``run(frames, overlap=True)`` instead decodes, infers and annotates neighbouring frames at
once on three threads (``prefetch``): more frames per second for one frame more latency. The
GL rasterizer is created by the first ``annotate`` call, so annotate from one thread only.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from meshpose_core.detection import (
    DEFAULT_PERSON_DETECTOR,
    AutoPersonDetector,
    DetectorConfig,
    YoloxConfig,
    create_person_detector,
)
from meshpose_core.model.inference import keep_freed_memory
from meshpose_core.topology import Topology, Upsampling
from meshpose_core.topology.integrity import mesh_stretch
from meshpose_core.tryon.overlap import xy_box

from .background_detection import BackgroundDetection
from .camera_space import CameraLifter, CameraSpaceConfig
from .crops import (
    CropConfig,
    crop_transform,
    follow_body,
    invert_affine,
    to_image_px,
    warp_crops,
)
from .layers import LayerRenderer, RenderConfig
from .mesh_guard import MeshGuardConfig, accepted_meshes
from .motion import MotionGate, MotionGateConfig
from .network import Network, NetworkConfig
from .pacing import PROBE_LENGTH, PROBE_SETTLE, arrival_fps, pick_mode
from .prefetch import staged
from .results import STAGES, FrameResult, PersonResult
from .smoothing import MeshSmoother, SmoothingConfig, carry_to_keypoints
from .sources import Frame, VideoSource
from .tracker import Track, Tracker, TrackerConfig, agree_in_view, mesh_box


@dataclass(frozen=True)
class PipelineConfig:
    network: NetworkConfig = field(default_factory=NetworkConfig)
    # which detector finds people: yolox, blazepose (``detection.PERSON_DETECTORS``) or
    # auto, the one the picture calls for (``detection.auto_detector``)
    person_detector: str = DEFAULT_PERSON_DETECTOR
    # BlazePose's: one extra square window finds the smaller people of a wide frame (~8 ms)
    detector: DetectorConfig = field(default_factory=lambda: DetectorConfig(windows=1))
    yolox: YoloxConfig = field(default_factory=YoloxConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    # scheduled detector runs skipped while nothing moves outside the tracked people
    motion: MotionGateConfig = field(default_factory=MotionGateConfig)
    # frames after which a scheduled detector run (looking for newcomers while everyone is
    # tracked) is used: it runs in a worker thread meanwhile (``background_detection``);
    # 0: inline, on the frame it looks at. Runs when tracking is uncertain are always inline
    detection_lag: int = 2
    crop: CropConfig = field(default_factory=CropConfig)
    # meshes not drawn: broken (an edge stretched across) or a second mesh on one person
    guard: MeshGuardConfig = field(default_factory=MeshGuardConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    # each person's mesh also in metres in the camera frame (assumed camera and body size)
    camera: CameraSpaceConfig = field(default_factory=CameraSpaceConfig)
    fps_hint: float = 30.0  # frame rate assumed for smoothing when timestamps do not tell


class Pipeline:
    """Per-stream state (tracks, filters, render buffers) around the loaded models."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.config = config = config or PipelineConfig()
        keep_freed_memory()  # large activations stay mapped: ~2x faster batched inference
        self.network = Network(config.network)
        with _quiet_native_stderr():  # LiteRT announces its CPU delegate on stderr
            self.detector = create_person_detector(
                config.person_detector, config.detector, config.yolox
            )
        self.tracker = Tracker(config.tracker)
        self.background = (
            BackgroundDetection(config.detection_lag) if config.detection_lag > 0 else None
        )
        self.motion = MotionGate(config.motion)
        self.smoother = (
            MeshSmoother(config.smoothing, 1.0 / config.fps_hint)
            if config.smoothing.enabled
            else None
        )
        wanted = _draws(config.render) or config.render.densepose
        self.renderer = LayerRenderer(config.render) if wanted else None
        self._low = Topology.load("low")
        if config.guard.enabled:  # its loop compiled (or loaded from numba's cache) now
            mesh_stretch(self._low.vertices)
        self.lifter = CameraLifter(config.camera) if config.camera.enabled else None
        self._upsampling = Upsampling.load()
        self._crops: np.ndarray | None = None
        self._last_start: float | None = None
        self._fps = 0.0
        self._last_latency: dict[str, float] = {}
        self.stream_mode = "sequential"  # the mode ``stream`` runs in (``overlap="auto"``)
        # meshes the guard kept from being drawn since the pipeline was made, and weak
        # detections whose mesh did not vet them (benchmarks)
        self.rejected = {"broken": 0, "duplicate": 0, "weak": 0}

    def reset(self) -> None:
        """Forget tracks, filter and outfit state: the next frame starts an unrelated input."""
        self.tracker.reset()
        if self.background is not None:
            self.background.cancel()
        if isinstance(self.detector, AutoPersonDetector):
            self.detector.reset()  # the next input chooses its detector again
        self.motion.reset()
        if self.smoother is not None:
            self.smoother.reset()
        if self.renderer is not None:
            self.renderer.reset()

    def set_layers(
        self,
        layers: tuple[tuple[str, float], ...],
        video_opacity: float = RenderConfig.video_opacity,
        outfits: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        """Draw these layers over the frame at ``video_opacity``, garments from ``outfits``,
        from the next frame on (an app's live controls: the renderer, its GL context and each
        track's outfit stay; one is made if there was none). ``ValueError`` (``GarmentError``
        for an outfit that cannot be loaded): nothing changes then."""
        if self.renderer is None:
            render = replace(
                self.config.render, layers=layers, video_opacity=video_opacity, outfits=outfits
            )
            self.renderer = LayerRenderer(render)
        else:
            self.renderer.set_layers(layers, video_opacity, outfits)
        self.config = replace(self.config, render=self.renderer.config)

    def run(self, frames: Iterable[Frame], overlap: bool = False) -> Iterator[FrameResult]:
        """Process a source frame by frame (``stream`` without the frames)."""
        for _, result in self.stream(frames, overlap):
            yield result

    def stream(
        self,
        frames: Iterable[Frame],
        overlap: bool | str = False,
        independent: bool = False,
        camera_fps: float | None = None,
    ) -> Iterator[tuple[Frame, FrameResult]]:
        """(frame, result) for each frame in order; the time spent getting a frame is its
        "capture" latency.

        overlap: decode the next frames and infer the next one in background threads while
        this one is annotated and consumed (the caller's loop body runs concurrently with
        them; from a live source, ``frames.live``, the newest frame: see ``staged``);
        "auto": the first ``PROBE_LENGTH`` frames in sequence, the last ``PROBE_FRAMES``
        of them timed with the caller's work, then the mode ``pacing.pick_mode`` chooses
        for a camera at ``camera_fps`` (default: ``pacing.arrival_fps(frames)``, a live
        source's rate, e.g. a webcam's; 0, hence overlapped, for a file read unpaced):
        sequential while it keeps up (the lowest latency), else overlapped;
        ``stream_mode`` says which. independent:
        unrelated pictures, tracking reset before each (always in sequence). Close the
        iterator (or exhaust it) before closing ``frames``' source: that stops the
        background threads."""

        def infer(frame: Frame, capture_ms: float) -> FrameResult:
            if independent:
                self.reset()
            return self.infer(frame, capture_ms)

        live = bool(getattr(frames, "live", False))  # a camera: frames go stale in queues
        if overlap == "auto" and not independent:
            fps = camera_fps if camera_fps is not None else arrival_fps(frames)
            self.stream_mode = "sequential"
            rest = iter(frames)
            busy = []
            for k, (frame, t0, capture_ms, result) in enumerate(
                staged(itertools.islice(rest, PROBE_LENGTH), infer, False)
            ):
                self.annotate(frame, result)
                yield frame, result
                if k >= PROBE_SETTLE:  # the stream's first frames: see ``PROBE_SETTLE``
                    busy.append((time.perf_counter() - t0) * 1e3 - capture_ms)
            frames, overlap = rest, pick_mode(busy, fps) == "overlap"
        parallel = bool(overlap) and not independent
        self.stream_mode = "overlap" if parallel else "sequential"
        for frame, _, _, result in staged(frames, infer, parallel, live):
            self.annotate(frame, result)
            yield frame, result

    def process(self, frame: Frame | np.ndarray, capture_ms: float = 0.0) -> FrameResult:
        """One frame (a ``Frame`` or an (H, W, 3) uint8 RGB array) -> ``FrameResult``."""
        if isinstance(frame, np.ndarray):
            frame = Frame(frame, 0.0, 0)
        result = self.infer(frame, capture_ms)
        self.annotate(frame, result)
        return result

    def infer(self, frame: Frame, capture_ms: float = 0.0) -> FrameResult:
        """Every stage but the layers: the people of ``frame`` (``annotated`` still None)."""
        now = time.perf_counter()
        if self._last_start is not None:
            rate = 1.0 / max(now - self._last_start, 1e-6)
            self._fps = rate if self._fps == 0.0 else 0.9 * self._fps + 0.1 * rate
        self._last_start = now
        lat = dict.fromkeys(STAGES, 0.0)
        lat["capture"] = capture_ms

        t = time.perf_counter()
        tracker = self.tracker
        tracker.predict()
        detected = tracker.tracking_uncertain()
        looked = False
        background = self.background
        if background is not None and background.pending:
            t_det = time.perf_counter()
            if detected:  # the detector must look at this frame: the older run is stale
                background.cancel()
            elif background.tick():
                boxes, scores = background.collect(
                    {tr.id: tr.box for tr in tracker.tracks}, tracker.config.iou_threshold
                )
                tracker.update(boxes, scores, frames_ago=background.lag)
            lat["detect"] = (time.perf_counter() - t_det) * 1e3  # waiting for the worker
        elif not detected and tracker.detection_scheduled():
            boxes = [tr.box for tr in tracker.tracks]
            detected = not self.motion.allows_skip(frame.image, boxes)
            if not detected:
                tracker.postpone_detection()
            elif background is not None:
                background.start(
                    self.detector, frame.image, {tr.id: tr.box for tr in tracker.tracks}
                )
                self.motion.remember(frame.image)
                tracker.postpone_detection()  # the schedule counts from this frame
                looked = True  # the detector looks at this frame, in the worker
                detected = False
        if detected:
            t_det = time.perf_counter()
            detections = self.detector.detect(frame.image)
            self.motion.remember(frame.image)
            lat["detect"] += (time.perf_counter() - t_det) * 1e3
            tracker.update(
                np.array([d.box for d in detections]).reshape(-1, 4),
                np.array([d.score for d in detections]),
            )
        # weak detections' new tracks are meshed too, to be vetted (not drawn until then)
        tracks = tracker.active() + tracker.unvetted()
        lat["track"] = (time.perf_counter() - t) * 1e3 - lat["detect"]

        people = self._meshes(frame, tracks, lat) if tracks else []
        if self.smoother is not None:
            self.smoother.keep_only({p.track_id for p in people})

        return FrameResult(
            index=frame.index,
            timestamp=frame.timestamp,
            width=frame.width,
            height=frame.height,
            people=people,
            latency_ms=lat,
            name=frame.name,
            detected=detected or looked,
        )

    def annotate(self, frame: Frame, result: FrameResult) -> FrameResult:
        """Draw the layers of ``result`` onto ``frame`` and render its DensePose output when
        configured (sets ``annotated``, ``densepose`` and the render latency; nothing to do
        without either); returns ``result``."""
        if self.renderer is not None:
            t = time.perf_counter()
            if _draws(self.config.render):
                hud = self.hud_lines(len(result.people))
                result.annotated = self.renderer.render(frame.image, result.people, hud)
            if self.config.render.densepose:
                result.densepose = self.renderer.densepose(result.people, frame.width, frame.height)
            result.latency_ms["render"] = (time.perf_counter() - t) * 1e3
        self._last_latency = result.latency_ms
        return result

    def _meshes(
        self, frame: Frame, tracks: list[Track], lat: dict[str, float]
    ) -> list[PersonResult]:
        """Crops -> one batched network call -> image-space people (updates ``lat``)."""
        t = time.perf_counter()
        size = self.network.input_size
        crop = self.config.crop
        to_crop = np.stack(
            [
                crop_transform(tr.box, crop.margin * tr.crop_side, size, tr.crop_rotation)
                for tr in tracks
            ]
        )
        self._crops = warp_crops(frame.image, to_crop, size, crop.border_value, self._crops)
        crop_ms = (time.perf_counter() - t) * 1e3
        pred, net_ms, up_ms = self.network.predict(self._crops[: len(tracks)])
        lat["network"] = crop_ms + net_ms

        t = time.perf_counter()
        to_image = invert_affine(to_crop)
        vertices = to_image_px(pred.vertices, to_image, has_depth=True)
        high = to_image_px(pred.vertices_high, to_image, has_depth=True)
        keypoints = to_image_px(pred.keypoints, to_image, has_depth=False)
        vis_high = self._upsampling.low_to_high(pred.visibility[..., None])[..., 0]
        people = []
        for i, tr in enumerate(tracks):
            v, vh, kp = vertices[i], high[i], keypoints[i]
            if self.smoother is not None:
                raw_v = v
                v, vh = self.smoother(
                    tr.id, frame.timestamp, tr.scale, v, pred.visibility[i], vh, vis_high[i]
                )
                kp = carry_to_keypoints(kp, raw_v, v, self._low)
            camera = self.lifter(frame.width, frame.height, v, vh) if self.lifter else [None] * 2
            people.append(
                PersonResult(
                    track_id=tr.id,
                    box=tr.box.astype(np.float32),
                    score=tr.score,
                    keypoints=kp,
                    vertices=v,
                    visibility=pred.visibility[i],
                    vertices_high=vh,
                    visibility_high=vis_high[i].astype(np.float32),
                    crop_to_image=to_image[i],
                    iuv=None if pred.iuv is None else pred.iuv[i],
                    foreground=None if pred.foreground is None else pred.foreground[i],
                    vertices_camera=camera[0],
                    vertices_high_camera=camera[1],
                )
            )
        lat["upsample"] = up_ms + (time.perf_counter() - t) * 1e3

        t = time.perf_counter()
        people = self._steer_tracks(tracks, people, (frame.width, frame.height))
        lat["track"] += (time.perf_counter() - t) * 1e3
        return people

    def _steer_tracks(
        self, tracks: list[Track], people: list[PersonResult], frame_size: tuple[int, int]
    ) -> list[PersonResult]:
        """Each mesh corrects its track and sets its next crop; broken meshes, second
        meshes of one person (``mesh_guard``) and meshes the tracker rejects are not kept,
        nor those of tracks not to show yet: the people to draw. A track born of a weak
        detection (``Tracker.unvetted``) that fails any check or whose mesh is not visible
        enough (``Tracker.vet``) is dropped at once."""
        scale = self.config.tracker.mesh_box_scale
        tight = np.stack([xy_box(p.vertices).ravel() for p in people])  # (N, 4) extents
        boxes = [mesh_box(extent, scale) for extent in tight]
        vertices = np.stack([p.vertices for p in people])
        broken, duplicate = accepted_meshes(vertices, tight, self.config.guard)
        weak = np.array([not tr.vetted for tr in tracks])
        self.rejected["broken"] += int((broken & ~weak).sum())  # a weak one counts as weak
        self.rejected["duplicate"] += int(duplicate.sum())
        kept = []
        for i, (tr, p) in enumerate(zip(tracks, people, strict=True)):
            if duplicate[i]:
                self.tracker.drop(tr.id)
                continue
            if weak[i] and (broken[i] or not self.tracker.vet(tr.id, float(p.visibility.mean()))):
                self.tracker.reject_weak(tr.id)
                self.rejected["weak"] += 1
                continue
            if broken[i]:
                self.tracker.reject(tr.id)
                continue
            confidence = float(p.keypoints[:, 2].mean())
            accepted = self.tracker.refine(tr.id, boxes[i], confidence)
            if weak[i] and not accepted:
                self.tracker.reject_weak(tr.id)  # its mesh elsewhere: not a person
                self.rejected["weak"] += 1
                continue
            if (
                not accepted
                and self.config.guard.enabled
                and not self._drawn_unsteered(tr, boxes[i], confidence, frame_size)
            ):
                continue  # not this person's mesh (elsewhere, another size, unsure)
            if tr.steered:
                tr.crop_rotation, tr.crop_side = follow_body(
                    p.keypoints, p.vertices[:, :2], self.config.crop.rotate_above_deg
                )
            if not weak[i] or self.tracker.shows(tr):  # a vetted newcomer: first frames only
                kept.append(p)
        return kept

    def _drawn_unsteered(
        self, track: Track, box: np.ndarray, confidence: float, frame_size: tuple[int, int]
    ) -> bool:
        """Whether a mesh the tracker would not steer with (``Tracker.refine``) is still
        drawn: a body the frame cuts (a webcam close-up) is guessed beyond it, and that
        guess grows and shrinks twofold from frame to frame (the size check fails) while
        the part in view stays on the person. Such a mesh is drawn when its box's part in
        view overlaps the track's at IoU >= ``MeshGuardConfig.in_view_iou`` and its keypoints
        are sure enough; the track is re-detected as for any rejected mesh."""
        guard, cfg = self.config.guard, self.tracker.config
        return confidence >= cfg.min_mesh_confidence and agree_in_view(
            track.box, box, frame_size, guard.in_view_iou
        )

    def hud_lines(self, people: int) -> list[str]:
        """HUD text: frame rate, people, and the previous frame's per-stage latency (this
        frame's render time is not known while it is drawn)."""
        lat = self._last_latency
        stages = " ".join(f"{k[:3]} {lat.get(k, 0.0):.1f}" for k in STAGES)
        who = f"{people} person" if people == 1 else f"{people} people"
        return [f"{self._fps:5.1f} FPS  {who}  {self.network.name}", f"ms: {stages}"]

    def close(self) -> None:
        """Release the renderer (call from the thread that processed) and the detector's
        worker thread."""
        if self.background is not None:
            self.background.close()
        if self.renderer is not None:
            self.renderer.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _draws(render: RenderConfig) -> bool:
    """Whether frames are annotated: a layer to draw, or a faded video under none."""
    return bool(render.layers) or render.video_opacity < 1.0


def results_at(
    pipe: Pipeline, video: str | Path, indices: Iterable[int]
) -> Iterator[tuple[Frame, FrameResult]]:
    """Process ``video`` as the CLI does, from its start (``pipe.reset()`` first) and every
    frame in order, so that the tracker is warm, up to the last of ``indices``; yield
    (frame, result) for each of ``indices`` the video has, in order (fewer than asked: the
    video is shorter). ``SourceError`` for a missing or unreadable video."""
    wanted = sorted(set(indices))
    if not wanted:
        return
    pipe.reset()
    with VideoSource(video) as source:
        for frame in source:
            result = pipe.process(frame)
            if frame.index in wanted:
                yield frame, result
            if frame.index >= wanted[-1]:
                return


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence what native libraries write to file descriptor 2 inside the block."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # captured / replaced stderr: nothing to do
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
