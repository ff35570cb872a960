"""The worker thread: capture -> pipeline -> render -> recording, all off the GUI thread.

The ``Pipeline`` (with its GL rasterizer), the input and the recording sinks are created, used
and closed in ``run()``: a GL context belongs to the thread that made it, and the GUI thread
must never wait on the network. The GUI talks to the worker only through the public methods
below, which queue a command for ``run()`` to execute between frames, and through signals,
which Qt delivers in the GUI thread. Frames go out as ``FramePacket``s (numpy arrays, no
copy); ``latest_seq`` lets the GUI drop packets that a newer one has already replaced.

Commands that would be costly to repeat (a new model, a seek while dragging the slider) are
coalesced: only the last one queued before the worker looks is carried out.

A camera runs as the CLI's ``--webcam`` does, through ``Pipeline.stream(overlap="auto")``: a
sequential probe, then the mode with the lower latency that keeps up with the camera's rate
(``pacing.pick_mode``: sequential while it keeps up, else overlapped, inference on background
threads while this thread draws). The stream is closed before anything else touches the
pipeline or the camera (pause, new input or model, reset), and when the work per frame
changes (layers, side view, recording) so that the next frame probes it again. Files and
stills are processed frame by frame (they seek, step and loop; played at their rate, or as
fast as the pipeline goes).
"""

from __future__ import annotations

import functools
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QObject, QThread, pyqtSignal

from meshpose_core.pipeline import (
    STAGES,
    Frame,
    FrameResult,
    ModelUnavailable,
    Pipeline,
    SinkError,
    SourceError,
)
from meshpose_core.pipeline.pacing import PROBE_LENGTH
from meshpose_core.tryon import GarmentError, load_outfits

from .player import Player, SourceSpec
from .rates import RateMeter
from .recorder import Recorder
from .settings import LayerSettings, ModelSettings
from .turntable import Turntable, main_person

IDLE_WAIT_S = 0.5  # how long the worker sleeps on its queue when there is nothing to play


@dataclass(frozen=True, eq=False)
class FramePacket:
    """One displayed frame. image: the annotated (H, W, 3) uint8 RGB frame; side_view: the
    turned mesh of ``side_track`` (None when the view is hidden or nobody is there)."""

    seq: int
    image: np.ndarray
    result: FrameResult
    frame_count: int | None
    pipeline_fps: float
    side_view: np.ndarray | None = None
    side_track: int | None = None


@dataclass(frozen=True)
class SourceInfo:
    spec: SourceSpec
    description: str
    fps: float
    frame_count: int | None
    seekable: bool


@dataclass(frozen=True)
class PipelineInfo:
    """The pipeline that runs now: its settings (None: no model loaded), the network's name,
    its device, and the rasterizer drawing the layers ("gl", "cpu"; "" until the first
    frame)."""

    settings: ModelSettings | None
    model: str
    device: str
    renderer: str


@dataclass(frozen=True)
class PlaybackState:
    playing: bool
    recording: bool
    loop: bool


@dataclass(frozen=True)
class Problem:
    """An error worth a dialog; ``missing_weights`` when the fix is to get a weights file."""

    title: str
    text: str
    missing_weights: bool = False


class PipelineWorker(QThread):
    """Owns the input, the pipeline and the recording; see the module docstring."""

    frame_ready = pyqtSignal(object)  # FramePacket
    source_changed = pyqtSignal(object)  # SourceInfo
    pipeline_changed = pyqtSignal(object)  # PipelineInfo
    playback_changed = pyqtSignal(object)  # PlaybackState
    message = pyqtSignal(str)  # one line for the status bar
    problem = pyqtSignal(object)  # Problem, for a dialog
    outfits_changed = pyqtSignal(object)  # the outfits worn now, after a change or a refusal

    def __init__(
        self, model: ModelSettings, layers: LayerSettings, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._commands: queue.Queue[Callable[[], None]] = queue.Queue()
        self.latest_seq = 0  # written by the worker only; the GUI reads it to drop stale frames
        # Everything below belongs to the worker thread once it runs.
        self._wanted_model: ModelSettings | None = model
        self._running_model: ModelSettings | None = None
        # whether the pipeline was built for a camera (the "auto" detector depends on it)
        self._built_live = False
        self._layers = layers
        self._pipeline: Pipeline | None = None
        self._player: Player | None = None
        # a camera's frames through ``Pipeline.stream(overlap="auto")``; how many it gave
        self._stream: Iterator[tuple[Frame, FrameResult]] | None = None
        self._streamed = 0
        self._playing = False
        self._loop = False
        self._realtime = True
        self._next_due = 0.0
        self._pending_seek: int | None = None
        self._last: tuple[Frame, FrameResult] | None = None
        self._redraw_needed = False
        self._reprocess_needed = False
        self._recorder: Recorder | None = None
        self._side: tuple[float, float, int, int] | None = None
        self._turntable: Turntable | None = None
        self._renderer_shown = ""
        self._rate = RateMeter()
        self._stopping = False

    # -- commands (called from the GUI thread) ------------------------------------------------

    def open_source(self, spec: SourceSpec) -> None:
        self._post(self._open, spec)

    def set_model(self, model: ModelSettings) -> None:
        self._post(self._set_model, model)

    def set_layers(self, layers: LayerSettings) -> None:
        self._post(self._set_layers, layers)

    def set_playing(self, playing: bool) -> None:
        self._post(self._set_playing, playing)

    def toggle_playing(self) -> None:
        self._post(lambda: self._set_playing(not self._playing))

    def set_loop(self, loop: bool) -> None:
        self._post(self._set_loop, loop)

    def set_realtime(self, realtime: bool) -> None:
        """True: play files at their frame rate; False: as fast as the pipeline goes."""
        self._post(self._set_realtime, realtime)

    def seek(self, index: int) -> None:
        self._post(self._set_seek, index)

    def step(self, delta: int) -> None:
        self._post(self._step, delta)

    def start_recording(self, video: Path | None, json: Path | None) -> None:
        self._post(self._start_recording, video, json)

    def stop_recording(self) -> None:
        self._post(self._stop_recording)

    def set_side_view(self, view: tuple[float, float, int, int] | None) -> None:
        """(yaw, pitch, width, height) of the side view, or None when it is hidden."""
        self._post(self._set_side_view, view)

    def stop(self) -> None:
        """Ask the thread to finish (it closes everything it opened); then ``wait()``."""
        self._post(self._request_stop)

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        self._commands.put(functools.partial(fn, *args))

    # -- the thread -------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._check_outfits()
            while not self._stopping:
                if self._wanted_model != self._running_model or self._built_live != self._live():
                    self._rebuild()
                self._run_commands(self._wait_s())
                if self._stopping:
                    break
                if self._pending_seek is not None:
                    self._seek(self._pending_seek)
                elif self._frame_due():
                    self._advance()
                elif self._reprocess_needed:
                    self._reprocess()
                elif self._redraw_needed:
                    self._redraw()
        except Exception as exc:  # a bug: say so, but never take the application down
            self.problem.emit(Problem("Unexpected error", f"{type(exc).__name__}: {exc}"))
        finally:
            self._shutdown()

    def _wait_s(self) -> float:
        busy = self._redraw_needed or self._reprocess_needed or self._pending_seek is not None
        if busy or self._wanted_model != self._running_model:
            return 0.0
        if not (self._playing and self._player):
            return IDLE_WAIT_S
        if self._player.spec.is_camera or not self._realtime:
            return 0.0
        return max(0.0, self._next_due - time.monotonic())

    def _run_commands(self, timeout: float) -> None:
        try:
            command = (
                self._commands.get(timeout=timeout) if timeout > 0 else self._commands.get_nowait()
            )
        except queue.Empty:
            return
        while True:
            try:
                command()
            except Exception as exc:  # one failed command must not end the thread
                self.message.emit(f"Error: {exc}")
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return

    def _frame_due(self) -> bool:
        if not (self._playing and self._player):
            return False
        if self._player.spec.is_camera or not self._realtime:
            return True
        return time.monotonic() >= self._next_due

    # -- frames -----------------------------------------------------------------------------

    def _advance(self) -> None:
        """Show the next frame and schedule the one after (at the input's rate, no bursts
        after a slow frame)."""
        assert self._player is not None
        self._show_next()
        period, now = 1.0 / self._player.fps, time.monotonic()
        self._next_due = max(self._next_due + period, now - period)

    def _show_next(self) -> None:
        """Read, process and send the next frame; pause at the end of the input."""
        assert self._player is not None
        if self._pipeline is not None and self._player.live and self._playing:
            self._show_streamed()  # (a step while paused: one frame in sequence, below)
            return
        start = time.perf_counter()
        try:
            frame = self._player.read()
        except SourceError as exc:
            self._pause(str(exc))
            return
        if frame is None:
            self._pause(f"End of {self._player.spec.label}")
            return
        if self._player.restarted or self._player.spec.is_images:
            self._reset_tracking()  # a loop or an unrelated picture: no motion to follow
        self._process(frame, (time.perf_counter() - start) * 1e3)

    def _show_streamed(self) -> None:
        """The next camera frame from the "auto" stream (see the module docstring)."""
        assert self._pipeline is not None and self._player is not None
        if self._stream is None:
            self._stream, self._streamed = self._pipeline.stream(self._player, "auto"), 0
        try:
            item = next(self._stream, None)
        except SourceError as exc:
            self._pause(str(exc))
            return
        except Exception as exc:  # e.g. a renderer failure: keep the app, stop the stream
            self._pause(f"Processing failed: {type(exc).__name__}: {exc}")
            return
        if item is None:
            self._pause(f"End of {self._player.spec.label}")
            return
        self._streamed += 1
        if self._streamed == PROBE_LENGTH + 1:  # the first frame in the chosen mode
            self.message.emit(
                f"{self._player.spec.label} at {self._player.fps:g} FPS: "
                f"{self.stream_mode} processing"
            )
        self._show(*item)

    @property
    def stream_mode(self) -> str:
        """How camera frames are processed now: "sequential" or "overlap" (the "auto"
        stream's choice; "sequential" while it probes, and for files)."""
        return self._pipeline.stream_mode if self._stream and self._pipeline else "sequential"

    def _close_stream(self) -> None:
        """Stop the camera stream's background threads (the camera stays open)."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            stream.close()

    def _process(self, frame: Frame, capture_ms: float) -> None:
        try:
            if self._pipeline is None:  # no model: show the input as it is
                lat = dict.fromkeys(STAGES, 0.0) | {"capture": capture_ms}
                result = FrameResult(
                    frame.index, frame.timestamp, frame.width, frame.height, [], lat, frame.image
                )
            else:
                result = self._pipeline.process(frame, capture_ms)
        except Exception as exc:  # e.g. a renderer failure: keep the app, stop the stream
            self._pause(f"Processing failed: {type(exc).__name__}: {exc}")
            return
        self._show(frame, result)

    def _show(self, frame: Frame, result: FrameResult) -> None:
        """Count, record and send a processed frame."""
        self._rate.tick()
        self._last = (frame, result)
        if self._recorder is not None:
            shown = result.annotated if result.annotated is not None else frame.image
            try:
                self._recorder.write(result, shown)
            except SinkError as exc:
                self.message.emit(str(exc))
                self._stop_recording()
        self._emit()

    def _reprocess(self) -> None:
        """Run the pipeline again on the frame shown (paused, after a model change)."""
        self._reprocess_needed = False
        if self._last is not None:
            self._reset_tracking()
            self._process(self._last[0], 0.0)

    def _redraw(self) -> None:
        """Draw the frame shown again with the current layers (paused, after a change)."""
        self._redraw_needed = False
        if self._last is None:
            return
        frame, result = self._last
        if self._pipeline is not None and self._pipeline.renderer is not None:
            result = replace(
                result, annotated=self._pipeline.renderer.render(frame.image, result.people)
            )
            self._last = (frame, result)
        self._emit()

    def _emit(self) -> None:
        assert self._last is not None
        frame, result = self._last
        side, track = self._side_view(result)
        image = result.annotated if result.annotated is not None else frame.image
        self.latest_seq += 1
        count = self._player.frame_count if self._player else None
        packet = FramePacket(
            self.latest_seq, np.ascontiguousarray(image), result, count, self._rate.rate(),
            side, track,
        )  # fmt: skip
        self.frame_ready.emit(packet)
        self._report_renderer()

    def _side_view(self, result: FrameResult) -> tuple[np.ndarray | None, int | None]:
        renderer = self._pipeline.renderer if self._pipeline else None
        person = main_person(result.people) if self._side else None
        if person is None or self._side is None or renderer is None:
            return None, None
        yaw, pitch, width, height = self._side
        self._turntable = self._turntable or Turntable()
        try:
            picture = self._turntable.render(
                person, yaw, pitch, (width, height), renderer.rasterizer()
            )
        except Exception as exc:  # the main view matters more: drop the side view, say why
            self._side = None
            self.message.emit(f"Side view stopped: {type(exc).__name__}: {exc}")
            return None, None
        return picture, person.track_id

    def _report_renderer(self) -> None:
        """Tell the GUI which rasterizer draws, once known; say so when GL was not available."""
        renderer = self._pipeline.renderer if self._pipeline else None
        backend = renderer.backend if renderer is not None else ""
        if backend in ("", "none") or backend == self._renderer_shown:
            return
        self._renderer_shown = backend
        self.pipeline_changed.emit(self._info())
        assert self._running_model is not None
        if backend == "cpu" and self._running_model.renderer != "cpu":
            self.message.emit(
                "No OpenGL context could be created: drawing with the CPU rasterizer (slower). "
                "Install the EGL/GL drivers (tools/setup.sh) for the GL renderer."
            )

    def _pause(self, why: str) -> None:
        self._close_stream()
        self._playing = False
        self.message.emit(why)
        self._emit_playback()

    def _reset_tracking(self) -> None:
        self._close_stream()  # its inference thread uses the tracker
        if self._pipeline is not None:
            self._pipeline.reset()

    # -- command handlers (worker thread) ---------------------------------------------------

    def _open(self, spec: SourceSpec) -> None:
        try:
            player = Player(spec)
        except SourceError as exc:
            text = str(exc)
            if spec.is_camera:
                text = (
                    f"No camera found at index {spec.camera}: connect a webcam, try another "
                    "index, or open a video file"
                )
            self.message.emit(text)
            if not spec.is_camera:  # a camera is often simply absent: the status bar says it
                self.problem.emit(Problem("Cannot open the input", text))
            return
        self._stop_recording()
        self._close_stream()  # it reads the old input
        if self._player is not None:
            self._player.close()
        player.loop = self._loop
        self._player, self._last = player, None
        self._reset_tracking()
        self._rate.reset()
        self.source_changed.emit(
            SourceInfo(
                spec, player.description, player.source_fps, player.frame_count, player.seekable
            )
        )
        self.message.emit(f"Opened {player.description}")
        self._set_playing(True)

    def _live(self) -> bool:
        """Whether the input is a camera."""
        return self._player is not None and self._player.spec.is_camera

    def _set_model(self, model: ModelSettings) -> None:
        self._wanted_model = model

    def _rebuild(self) -> None:
        """A new pipeline for the wanted settings; on failure the old one keeps running."""
        wanted = self._wanted_model
        assert wanted is not None
        self.message.emit(f"Loading model {wanted.model} ({wanted.backend}, {wanted.device})…")
        self._built_live = live = self._live()  # tried once per kind of input, even on failure
        try:
            pipeline = Pipeline(wanted.pipeline_config(self._layers, live=live))
            # a renderer even with every layer off: later layer changes and the side view
            # draw with it (and its GL context)
            self._apply_layers(pipeline, self._layers)
        except ModelUnavailable as exc:
            self._rebuild_failed(Problem("No model weights", str(exc), missing_weights=True))
            return
        except Exception as exc:  # bad combination (onnx on cuda), corrupt file, ...
            self._rebuild_failed(Problem("Cannot load the model", f"{exc}"))
            return
        self._close_stream()  # it runs the old pipeline
        if self._pipeline is not None:
            self._pipeline.close()
        self._pipeline, self._running_model = pipeline, wanted
        self._renderer_shown = ""
        self._rate.reset()
        self._reprocess_needed = not self._playing and self._last is not None
        self.pipeline_changed.emit(self._info())
        self.message.emit(f"Model: {pipeline.network.name}")

    def _rebuild_failed(self, problem: Problem) -> None:
        self._wanted_model = self._running_model
        self.pipeline_changed.emit(self._info())
        self.message.emit(problem.text)
        self.problem.emit(problem)

    def _info(self) -> PipelineInfo:
        if self._pipeline is None:
            return PipelineInfo(None, "no model", "-", "")
        network = self._pipeline.network
        return PipelineInfo(self._running_model, network.name, network.device, self._renderer_shown)

    def _check_outfits(self) -> None:
        """Remembered outfits whose file has gone: say so and wear the default ones."""
        try:
            load_outfits(self._layers.outfits)
        except GarmentError as exc:
            self.problem.emit(Problem("Cannot load the garment", str(exc)))
            self._layers = self._layers.with_outfits(())
            self.outfits_changed.emit(self._layers.outfits)

    def _set_layers(self, layers: LayerSettings) -> None:
        """New layers and outfits; an outfit that cannot be loaded is refused with a dialog
        and the previous one stays (loaded here, in the thread that renders)."""
        if layers.outfits != self._layers.outfits:
            try:
                load_outfits(layers.outfits)
            except GarmentError as exc:
                self.problem.emit(Problem("Cannot load the garment", str(exc)))
                layers = layers.with_outfits(self._layers.outfits)
            self.outfits_changed.emit(layers.outfits)
        self._layers = layers
        if self._pipeline is not None:
            self._apply_layers(self._pipeline, layers)
        self._close_stream()  # the work per frame changed: the next frame probes it again
        self._redraw_needed = not self._playing

    @staticmethod
    def _apply_layers(pipeline: Pipeline, layers: LayerSettings) -> None:
        pipeline.set_layers(layers.pipeline_layers(), layers.video_opacity, layers.outfits)

    def _set_playing(self, playing: bool) -> None:
        playing = playing and self._player is not None
        if not playing:
            self._close_stream()
        if playing and not self._playing:
            self._next_due = time.monotonic()
        self._playing = playing
        self._emit_playback()

    def _set_loop(self, loop: bool) -> None:
        self._loop = loop
        if self._player is not None:
            self._player.loop = loop
        self._emit_playback()

    def _set_realtime(self, realtime: bool) -> None:
        self._realtime = realtime
        self._next_due = time.monotonic()

    def _set_seek(self, index: int) -> None:
        self._pending_seek = index

    def _seek(self, index: int) -> None:
        self._pending_seek = None
        if self._player is None or not self._player.seekable:
            return
        start = time.perf_counter()
        try:
            frame = self._player.seek(index)
        except SourceError as exc:
            self._pause(str(exc))
            return
        if frame is not None:
            self._reset_tracking()  # a jump: tracks and filters would follow a false motion
            self._process(frame, (time.perf_counter() - start) * 1e3)
            self._next_due = time.monotonic() + 1.0 / self._player.fps

    def _step(self, delta: int) -> None:
        """Pause and show the frame ``delta`` frames away (+1 keeps tracking)."""
        self._set_playing(False)
        if self._player is None:
            return
        if delta == 1 or self._last is None:
            self._show_next()
        else:
            self._seek(self._last[0].index + delta)

    def _start_recording(self, video: Path | None, json: Path | None) -> None:
        if self._player is None:
            self.message.emit("Nothing to record: open a camera or a file first")
            return
        self._stop_recording()
        model = self._pipeline.network.name if self._pipeline else "none"
        self._recorder = Recorder(
            video, json, model, self._player.description, self._player.source_fps
        )
        self._close_stream()  # encoding adds to the work per frame: probe it again
        shown = ", ".join(str(p) for p in (video, json) if p is not None)
        self.message.emit(f"Recording to {shown}")
        self._emit_playback()

    def _stop_recording(self) -> None:
        if self._recorder is None:
            return
        self._close_stream()  # less work per frame: probe it again
        recorder, self._recorder = self._recorder, None
        try:
            written = recorder.close()
        except (SinkError, OSError) as exc:
            self.message.emit(f"Recording failed: {exc}")
        else:
            files = ", ".join(str(p) for p in written) or "nothing (no frame)"
            self.message.emit(f"Saved {recorder.frames} frames: {files}")
        self._emit_playback()

    def _set_side_view(self, view: tuple[float, float, int, int] | None) -> None:
        if (view is None) != (self._side is None):  # shown or hidden: probe the work again
            self._close_stream()
        self._side = view
        self._redraw_needed = not self._playing

    def _emit_playback(self) -> None:
        self.playback_changed.emit(
            PlaybackState(self._playing, self._recorder is not None, self._loop)
        )

    def _request_stop(self) -> None:
        self._stopping = True

    def _shutdown(self) -> None:
        """Close what the thread opened, each step on its own (one failure must not leak the
        rest): the recording first, so its files are complete."""
        for close in (
            self._stop_recording,
            self._close_stream,  # before the input and pipeline it uses
            self._close_player,
            self._close_pipeline,
        ):
            try:
                close()
            except Exception as exc:
                self.message.emit(f"Error while closing: {exc}")

    def _close_player(self) -> None:
        if self._player is not None:
            self._player.close()
            self._player = None

    def _close_pipeline(self) -> None:
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None
