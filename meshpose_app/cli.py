"""``meshpose-demo`` / ``python run_demo.py``: run the MeshPose Live pipeline on a webcam, a video
or images and write the annotated result (and optional JSON / OBJ / NPZ / IUV / GLB
exports).

With no arguments it processes the bundled sample clip headless into ``out/``. Every error is
one line on stderr with a non-zero exit status (1: bad input or output, e.g. an unreadable
garment image, 2: bad usage, e.g. an unknown garment name, an output path that would
overwrite an input, or no model weights, 3: done but unreadable images were skipped, 130:
interrupted); whatever was written before an error or Ctrl-C is kept and
complete (the video playable, the JSON valid). Output guarantees: ``output_paths`` and
docs/pipeline.md. The options, their defaults and their mapping onto the library's
configuration are ``meshpose_app.options`` (shared with the app).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import warnings
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from meshpose_core.detection import DetectorError
from meshpose_core.pipeline import (
    STAGES,
    FrameResult,
    ImageSink,
    ImageSource,
    IuvSink,
    JsonSink,
    ModelUnavailable,
    NpzSink,
    ObjSink,
    Pipeline,
    PipelineConfig,
    SinkError,
    Source,
    SourceError,
    VideoSink,
    open_source,
    parse_layers,
)
from meshpose_core.pipeline.glb import GlbSink
from meshpose_core.pipeline.layers import check_renderer
from meshpose_core.pipeline.network import model_path
from meshpose_core.pipeline.output_paths import Output, OutputPathError, check_outputs, unique_stems
from meshpose_core.pipeline.progress import progress_bar
from meshpose_core.pipeline.sinks import Sink, export_meta, interrupts_deferred
from meshpose_core.pipeline.sources import IMAGE_SUFFIXES, CameraOptions, Frame, is_url
from meshpose_core.render import RendererUnavailable
from meshpose_core.topology import TopologyError
from meshpose_core.tryon import (
    GarmentError,
    UnknownGarment,
    format_outfit,
    list_garments,
    load_outfits,
)

from .options import (
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SKIPPED,
    EXIT_USAGE,
    OUT_DIR,
    SAMPLE_CLIP,
    build_parser,
    config_from_args,
    outfits_of,
)

SinkT = TypeVar("SinkT", bound=Sink)


def _fail(message: str, status: int) -> int:
    print(f"meshpose-demo: error: {message}", file=sys.stderr)
    return status


class Display:
    """An OpenCV window when this OpenCV build has a GUI and a display exists."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = False
        self.reason = ""
        if not enabled:
            return
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            self.reason = "no display"
            return
        try:
            cv2.namedWindow("MeshPose Live", cv2.WINDOW_NORMAL)
            self.enabled = True
        except cv2.error:
            self.reason = "this OpenCV build has no GUI (opencv-python-headless)"

    def show(self, rgb: np.ndarray) -> bool:
        """Show a frame; False when the user closed the window or pressed q / Esc."""
        cv2.imshow("MeshPose Live", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1) & 0xFF
        visible = cv2.getWindowProperty("MeshPose Live", cv2.WND_PROP_VISIBLE) >= 1
        return key not in (ord("q"), 27) and visible

    def close(self) -> None:
        if self.enabled:
            cv2.destroyAllWindows()


def _input_stem(args: argparse.Namespace) -> str:
    if args.webcam:
        return "webcam"
    return Path(args.video or args.images).stem or "images"


def _apply_defaults(args: argparse.Namespace) -> None:
    """No input at all: the README's demo (sample clip, headless, video + JSON in out/)."""
    if not (args.webcam or args.video or args.images):
        args.video = str(SAMPLE_CLIP)
        args.headless = True
        args.export_json = args.export_json or str(OUT_DIR / "gym_run.json")
        if args.layers.strip():
            args.out = args.out or str(OUT_DIR / "gym_run_annotated.mp4")


def _apply_garments(args: argparse.Namespace) -> None:
    """``--garment`` turns the garment layer on (after the listed layers, at full opacity)."""
    if args.garment and "garment" not in dict(parse_layers(args.layers)):
        args.layers = f"{args.layers},garment" if args.layers.strip() else "garment"


def _check_garments(args: argparse.Namespace) -> int:
    """Load every garment now (the pipeline then finds them loaded), so that a bad name or
    file is one error line before any input is opened or frame processed: the exit status
    (0 when all is well; 2 for a bad option or name, 1 for a file that cannot be read)."""
    try:
        _apply_garments(args)
        outfits = outfits_of(args)
        layers = dict(parse_layers(args.layers))
    except ValueError as exc:  # GarmentError (an empty garment in a+b) or a bad --layers
        return _fail(str(exc), EXIT_USAGE)
    if "garment" in layers and not outfits:
        return _fail("the garment layer needs --garment NAME (see --list-garments)", EXIT_USAGE)
    try:
        load_outfits(outfits)
    except UnknownGarment as exc:
        return _fail(str(exc), EXIT_USAGE)
    except GarmentError as exc:
        return _fail(str(exc), EXIT_INPUT)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed on one line
        return int(exc.code or 0)
    if args.list_garments:
        print("\n".join(list_garments()))
        return EXIT_OK
    status = _check_garments(args)
    if status != EXIT_OK:
        return status
    _apply_defaults(args)
    if (args.webcam or args.video) and not args.headless:
        from meshpose_app.gui import can_show_gui

        if can_show_gui():  # else: processed headless below, with a note saying why
            from meshpose_app.gui.main_window import run_gui

            status = _check_outputs(args, None)
            return status if status != EXIT_OK else run_gui(args)

    try:
        config = config_from_args(args)
        check_renderer(args.renderer)
        model_path(args.model)  # cheap check first: no weights is the most likely problem
    except ModelUnavailable as exc:
        return _fail(str(exc), EXIT_USAGE)
    except (ValueError, RendererUnavailable) as exc:
        return _fail(str(exc), EXIT_USAGE)
    if args.out and not config.render.layers:
        return _fail("--out needs at least one layer (--layers is empty)", EXIT_USAGE)

    try:
        source = open_source(
            webcam=args.camera if args.webcam else None,
            video=args.video,
            images=args.images,
            on_skip=lambda message: print(f"meshpose-demo: {message}", file=sys.stderr),
            camera=CameraOptions(*(args.camera_size or (None, None)), args.camera_fps, args.mirror),
        )
    except SourceError as exc:
        return _fail(str(exc), EXIT_INPUT)
    display = Display(not args.headless)
    if not args.out and config.render.layers and not (args.webcam and display.enabled):
        suffix = "" if args.images else ".mp4"
        args.out = str(OUT_DIR / f"{_input_stem(args)}_annotated{suffix}")
    status = _check_outputs(args, source)
    if status != EXIT_OK:
        source.close()
        display.close()
        return status
    if not args.headless and not display.enabled:
        where = f"; writing {args.out}" if args.out else ""
        print(f"note: not showing a window: {display.reason}{where}", file=sys.stderr)

    written: list[str] = []
    previous = {s: signal.signal(s, _interrupt_once) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_line
            return _run(args, config, source, display, written)
    except ModelUnavailable as exc:
        return _fail(str(exc), EXIT_USAGE)
    except ValueError as exc:  # e.g. --device cuda without a GPU
        return _fail(str(exc), EXIT_USAGE)
    except (SourceError, SinkError, RendererUnavailable) as exc:
        return _fail(str(exc), EXIT_INPUT)
    except (DetectorError, TopologyError) as exc:  # a damaged installation
        return _fail(str(exc), EXIT_INPUT)
    except KeyboardInterrupt:  # before the first frame (e.g. during the one-time ONNX export)
        print("\nmeshpose-demo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # else: stay deaf until exit
            for s, handler in previous.items():
                signal.signal(s, handler)
        for path in written:  # also after an error: what was written is complete
            print(f"wrote {path}")


def _check_outputs(args: argparse.Namespace, source: Source | None) -> int:
    """Refuse (one line, exit 2, nothing touched) output paths that would overwrite an input
    or each other, or cannot be written (``output_paths.check_outputs``)."""
    outputs = [
        Output(Path(args.export_json), "file", "--export-json") if args.export_json else None,
        Output(Path(args.export_npz), "file", "--export-npz") if args.export_npz else None,
        Output(Path(args.export_obj), "folder", "--export-obj") if args.export_obj else None,
        Output(Path(args.export_iuv), "folder", "--export-iuv", IuvSink.REFUSED_SUFFIXES)
        if args.export_iuv
        else None,
        Output(Path(args.export_glb), "file", "--export-glb", (".glb",))
        if args.export_glb
        else None,
    ]
    if args.out and args.images:  # annotated images under the inputs' names
        refused = (".mp4", *IMAGE_SUFFIXES)
        outputs.insert(0, Output(Path(args.out), "folder", "--out", refused, input_names=True))
    elif args.out:
        outputs.insert(0, Output(Path(args.out), "file", "--out", (".mp4",)))
    inputs = [Path(p) for p in (args.video, args.images) if p and not is_url(p)]
    inputs += source.files if isinstance(source, ImageSource) else []
    # the weights are an input too; missing ones are reported where the model is loaded
    with suppress(ModelUnavailable):
        inputs.append(model_path(args.model))
    try:
        check_outputs(inputs, [o for o in outputs if o is not None])
    except OutputPathError as exc:
        return _fail(str(exc), EXIT_USAGE)
    return EXIT_OK


def _interrupt_once(signum: int, frame: object) -> None:
    """Ctrl-C / SIGTERM: stop (KeyboardInterrupt) once; later ones are ignored until the
    process ends, so a second Ctrl-C can interrupt neither the outputs' completion nor the
    interpreter's exit (both are short)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _warning_line(message: Warning | str, category: type[Warning], *args: object) -> None:
    print(f"meshpose-demo: warning: {message}", file=sys.stderr)


def _run(
    args: argparse.Namespace,
    config: PipelineConfig,
    source: Source,
    display: Display,
    written: list[str],
) -> int:
    """The frame loop; every sink is closed (completed) whatever happens; the paths of the
    completed outputs are added to ``written``."""
    start, status = time.perf_counter(), EXIT_OK
    totals = dict.fromkeys(STAGES, 0.0)
    with ExitStack() as stack:
        stack.callback(source.close)
        stack.callback(display.close)
        pipeline = Pipeline(config)
        stack.callback(pipeline.close)
        outfits = " | ".join(format_outfit(o) for o in config.render.outfits)
        print(
            f"meshpose-demo: {source.description} with {pipeline.network.name}, "
            f"layers {args.layers or 'none'}" + (f", outfits {outfits}" if outfits else ""),
            file=sys.stderr,
        )
        sinks = _Sinks(args, pipeline, source, written)
        stack.callback(_protected_close, sinks)
        # unrelated pictures: no tracking across them (and no overlap: each is on its own)
        # a webcam: the mode with the lower latency that keeps up with it (pacing.pick_mode)
        overlap = "auto" if args.webcam and not args.sequential else not args.sequential
        results = pipeline.stream(source, overlap, independent=bool(args.images))
        stack.callback(results.close)  # stops the background threads before the source closes
        bar = stack.enter_context(progress_bar(source.frame_count))
        try:
            start = time.perf_counter()
            for frame, result in results:
                for k in STAGES:
                    totals[k] += result.latency_ms[k]
                sinks.write(frame, result)
                bar.update(1)
                shown = display.enabled and result.annotated is not None
                if shown and not display.show(result.annotated):
                    break  # the user closed the window
        except KeyboardInterrupt:  # count: the frames whose outputs were all written
            print(f"\nmeshpose-demo: interrupted after {sinks.frames} frames", file=sys.stderr)
            status = EXIT_INTERRUPTED
        raster = pipeline.renderer.backend if pipeline.renderer is not None else "none"
        mode = pipeline.stream_mode
    elapsed, count = time.perf_counter() - start, sinks.frames
    if count:
        per = " ".join(f"{k} {totals[k] / count:.1f}" for k in STAGES)
        print(
            f"meshpose-demo: {count} frames in {elapsed:.1f} s ({count / elapsed:.1f} FPS); "
            f"mean ms per frame: {per}; rasterizer {raster}; {mode}",
            file=sys.stderr,
        )
    if isinstance(source, ImageSource) and source.skipped and status == EXIT_OK:
        n, total = len(source.skipped), len(source.files)
        print(
            f"meshpose-demo: {n} of {total} images could not be read and were skipped",
            file=sys.stderr,
        )
        status = EXIT_SKIPPED
    return status


def _protected_close(sinks: _Sinks) -> None:
    """Close the outputs with Ctrl-C and SIGTERM ignored, so that neither can leave them
    half closed."""
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in signals}
    try:
        sinks.close()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class _Sinks:
    """The outputs the arguments ask for, opened at the first frame (when its size is known)."""

    def __init__(
        self, args: argparse.Namespace, pipeline: Pipeline, source: Source, written: list[str]
    ) -> None:
        self.args, self.pipeline, self.source, self.written = args, pipeline, source, written
        self.open: list[tuple[Sink, str]] = []
        self.started = False
        self.frames = 0  # frames whose outputs are all written
        # OBJ names: x.jpg and x.png in one folder must not share x_id1.obj
        self.stems = unique_stems([p.name for p in getattr(source, "files", ())])
        self.video: VideoSink | None = None
        self.images: ImageSink | None = None
        self.json: JsonSink | None = None
        self.obj: ObjSink | None = None
        self.npz: NpzSink | None = None
        self.iuv: IuvSink | None = None
        self.glb: GlbSink | None = None

    def _start(self, frame: Frame) -> None:
        a = self.args
        if a.out and a.images:
            self.images = self._add(ImageSink(a.out), a.out)
        elif a.out:
            fps = self.source.fps
            self.video = self._add(VideoSink(a.out, frame.width, frame.height, fps), a.out)
        if a.export_json:
            meta = export_meta(
                self.pipeline.network.name,
                self.source.description,
                frame.width,
                frame.height,
                self.source.fps,
                self.pipeline.config.camera,
            )
            self.json = self._add(JsonSink(a.export_json, meta), a.export_json)
        if a.export_obj:
            self.obj = self._add(ObjSink(a.export_obj), a.export_obj)
        if a.export_npz:
            self.npz = self._add(NpzSink(a.export_npz), a.export_npz)
        if a.export_iuv:
            self.iuv = self._add(IuvSink(a.export_iuv), a.export_iuv)
        if a.export_glb:
            outfits = load_outfits(self.pipeline.config.render.outfits)  # loaded: cached
            self.glb = self._add(GlbSink(a.export_glb, self.source.fps, outfits), a.export_glb)

    def _add(self, sink: SinkT, path: str) -> SinkT:
        self.open.append((sink, path))
        return sink

    def write(self, frame: Frame, result: FrameResult) -> None:
        """All outputs of one frame, not cut in half by Ctrl-C (it is handled right after)."""
        with interrupts_deferred():
            self._write(frame, result)
            self.frames += 1

    def _write(self, frame: Frame, result: FrameResult) -> None:
        if not self.started:
            self.started = True
            self._start(frame)
        stem = self.stems.get(frame.name, Path(frame.name).stem) if frame.name else None
        if self.video is not None and result.annotated is not None:
            self.video.write(result.annotated)
        if self.images is not None and result.annotated is not None:
            self.images.write(result.annotated, frame.name or f"{frame.index:06d}.png")
        if self.json is not None:
            self.json.write(result, frame.name)
        if self.obj is not None:
            self.obj.write(result, stem)
        if self.npz is not None:
            self.npz.write(result)
        if self.iuv is not None:
            self.iuv.write(result, stem)
        if self.glb is not None:
            self.glb.write(result)

    def close(self) -> None:
        """Close every output, even when one of them fails (that error is raised after)."""
        error: BaseException | None = None
        for sink, path in self.open:
            try:
                sink.close()
                self.written.append(path)
            except SinkError as exc:
                error = error or exc
            except Exception as exc:  # e.g. the encoder's flush on a full disk: one line
                error = error or SinkError(f"cannot finish {path}: {exc}")
        if error is not None:
            raise error


if __name__ == "__main__":
    raise SystemExit(main())
