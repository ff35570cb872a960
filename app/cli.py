"""``meshpose-demo`` / ``python run_demo.py``: run the MeshPose Live pipeline on a webcam, a video
or images and write the annotated result (and optional JSON / OBJ / NPZ exports).

With no arguments it processes the bundled sample clip headless into ``out/``. Every error is
one line on stderr with a non-zero exit status (1: bad input or output, e.g. an unreadable
garment image, 2: bad usage, e.g. an unknown garment name, or no model weights, 130:
interrupted); whatever was written before an error or Ctrl-C is kept and
complete (the video playable, the JSON valid).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import NoReturn, TypeVar

import cv2
import numpy as np

from meshpose_core.detection import DEFAULT_PERSON_DETECTOR, PERSON_DETECTORS, DetectorError
from meshpose_core.model.checkpoint import PRESET_NAMES
from meshpose_core.pipeline import (
    STAGES,
    FrameResult,
    ImageSink,
    JsonSink,
    ModelUnavailable,
    MotionGateConfig,
    NetworkConfig,
    NpzSink,
    ObjSink,
    Pipeline,
    PipelineConfig,
    RenderConfig,
    SinkError,
    SmoothingConfig,
    Source,
    SourceError,
    TrackerConfig,
    VideoSink,
    open_source,
    parse_layers,
)
from meshpose_core.pipeline.layers import DEFAULT_LAYERS, LAYERS, RENDERERS, check_renderer
from meshpose_core.pipeline.network import BACKENDS, DEFAULT_MODEL, model_path
from meshpose_core.pipeline.sinks import Sink, interrupts_deferred
from meshpose_core.pipeline.sources import Frame
from meshpose_core.render import RendererUnavailable
from meshpose_core.topology import FORMAT_VERSION, LEVEL_SIZES, TopologyError
from meshpose_core.tryon import (
    GarmentError,
    UnknownGarment,
    format_outfit,
    list_garments,
    load_outfits,
    parse_outfit,
)
from meshpose_core.tryon.regions import REGIONS

REPO = Path(__file__).resolve().parents[1]
SAMPLE_CLIP = REPO / "assets" / "samples" / "gym_run.mp4"
OUT_DIR = Path("out")

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
SinkT = TypeVar("SinkT", bound=Sink)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except the uninformative None / False."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, []) or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action) or ""


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (the usage is in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog="meshpose-demo",
        description="3D body mesh and DensePose for every person in a webcam stream, a video or "
        "images (MeshPose, CVPR 2024). Without arguments: the bundled sample clip, headless, "
        "into out/gym_run_annotated.mp4 and out/gym_run.json.",
        formatter_class=_HelpFormatter,
    )
    src = ap.add_argument_group("input (one of)").add_mutually_exclusive_group()
    src.add_argument("--webcam", action="store_true", help="read a webcam (see --camera)")
    src.add_argument("--video", metavar="PATH", help="read a video file (any FFmpeg format)")
    src.add_argument("--images", metavar="PATH", help="an image file or a folder of images")
    ap.add_argument("--camera", type=int, default=0, metavar="N", help="webcam index")

    out = ap.add_argument_group("output")
    out.add_argument(
        "--out",
        metavar="PATH",
        help="annotated H.264 .mp4 for --video/--webcam, a folder for --images "
        "(default: out/<input name>_annotated[.mp4]; for --webcam only when no window shows)",
    )
    out.add_argument(
        "--headless", action="store_true", help="never open a window (implied without input)"
    )
    out.add_argument("--export-json", metavar="PATH", help="per-frame people as JSON")
    out.add_argument("--export-obj", metavar="DIR", help="one OBJ (6890 vertices, UVs) per person")
    out.add_argument("--export-npz", metavar="PATH", help="all people of all frames as arrays")

    model = ap.add_argument_group("model")
    model.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"{' | '.join(PRESET_NAMES)} (weights/meshpose_<name>.safetensors) or a "
        f".safetensors / .onnx / .tflite path (default {DEFAULT_MODEL}: the shipped model)",
    )
    model.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="auto: CUDA (fp16) when a GPU is available, else CPU",
    )
    model.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="auto: torch on CUDA; on a CPU LiteRT (XNNPACK) when the weights have an exported "
        ".tflite (the shipped ones do), else onnxruntime",
    )

    model.add_argument(
        "--threads",
        type=_positive_int,
        default=2,
        metavar="N",
        help="CPU threads of the network (use 1 on a busy machine: threads that wait on "
        "each other slow down badly when other programs take the cores)",
    )

    proc = ap.add_argument_group("processing and display")
    proc.add_argument(
        "--renderer",
        default="moderngl",
        choices=RENDERERS,
        help="moderngl: OpenGL (headless EGL; numpy fallback without GL); cpu: numpy; "
        "pyrender: the optional pyrender package (pip install pyrender; slower, same pictures)",
    )
    proc.add_argument(
        "--layers",
        default=DEFAULT_LAYERS,
        metavar="LIST",
        help=f"comma-separated layers from {','.join(LAYERS)}, each optionally with an "
        "opacity as name:0.5; '' renders nothing",
    )
    proc.add_argument(
        "--garment",
        action="append",
        default=[],
        metavar="NAME|PATH",
        help="dress people in an outfit (adds the garment layer): a shipped garment "
        "(--list-garments), an atlas-layout PNG, IMAGE.png@REGION for a plain image on a body "
        f"region ({', '.join(sorted(REGIONS))}), or a .npz mesh garment; join the garments of "
        "one outfit with + (striped_tshirt+flared_skirt). Repeat for several outfits: people "
        "take them in turn, in the order they appear, and keep theirs",
    )
    proc.add_argument(
        "--list-garments", action="store_true", help="print the shipped garments' names and exit"
    )
    proc.add_argument(
        "--max-people",
        type=_positive_int,
        default=10,
        metavar="N",
        help="follow at most N people (the earliest seen are kept)",
    )
    proc.add_argument(
        "--smooth",
        type=_non_negative_float,
        default=SmoothingConfig().strength,
        metavar="STRENGTH",
        help="temporal smoothing of the meshes (One-Euro filter): 0 off, 1 normal, 2 strong",
    )
    proc.add_argument(
        "--sequential",
        action="store_true",
        help="process each frame completely before reading the next (lowest latency per "
        "frame; by default decoding, inference and drawing of neighbouring frames overlap "
        "on separate threads: more frames per second)",
    )
    proc.add_argument(
        "--detector",
        default=DEFAULT_PERSON_DETECTOR,
        choices=PERSON_DETECTORS,
        help="who finds people: yolox (every visible person, any pose; the default) or "
        "blazepose (face and upper body; a single person close to the camera)",
    )
    proc.add_argument(
        "--detect-every",
        type=_positive_int,
        default=TrackerConfig.detect_every,
        metavar="N",
        help="run the person detector every N frames (sooner when a track is lost)",
    )
    proc.add_argument(
        "--always-detect",
        action="store_true",
        help="run every scheduled detection; by default one is skipped (up to 3 in a row) "
        "while nothing moved outside the tracked people, where no newcomer can be",
    )
    return ap


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


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


def _outfits(args: argparse.Namespace) -> tuple[tuple[str, ...], ...]:
    return tuple(parse_outfit(spec) for spec in args.garment)


def _check_garments(args: argparse.Namespace) -> int:
    """Load every garment now (the pipeline then finds them loaded), so that a bad name or
    file is one error line before any input is opened or frame processed: the exit status
    (0 when all is well; 2 for a bad option or name, 1 for a file that cannot be read)."""
    try:
        _apply_garments(args)
        outfits = _outfits(args)
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


def pipeline_config(
    *,
    model: str,
    backend: str,
    device: str,
    threads: int,
    renderer: str,
    max_people: int,
    smoothing: float,
    detect_every: int,
    always_detect: bool,
    layers: tuple[tuple[str, float], ...],
    outfits: tuple[tuple[str, ...], ...],
    detector: str = DEFAULT_PERSON_DETECTOR,
) -> PipelineConfig:
    """The library configuration of the run options: one mapping for the CLI and the GUI
    (``app.gui.settings.ModelSettings`` has these option names)."""
    return PipelineConfig(
        network=NetworkConfig(model=model, device=device, backend=backend, threads=threads),
        person_detector=detector,
        tracker=TrackerConfig(detect_every=detect_every, max_tracks=max_people),
        motion=MotionGateConfig(enabled=not always_detect),
        smoothing=SmoothingConfig(strength=smoothing),
        render=RenderConfig(layers=layers, renderer=renderer, outfits=outfits),
    )


def _config(args: argparse.Namespace) -> PipelineConfig:
    return pipeline_config(
        model=args.model,
        backend=args.backend,
        device=args.device,
        threads=args.threads,
        renderer=args.renderer,
        max_people=args.max_people,
        smoothing=args.smooth,
        detect_every=args.detect_every,
        always_detect=args.always_detect,
        layers=parse_layers(args.layers),
        outfits=_outfits(args),
        detector=args.detector,
    )


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
        from app.gui import can_show_gui

        if can_show_gui():  # else: processed headless below, with a note saying why
            from app.gui.main_window import run_gui

            return run_gui(args)

    try:
        config = _config(args)
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
            webcam=args.camera if args.webcam else None, video=args.video, images=args.images
        )
    except SourceError as exc:
        return _fail(str(exc), EXIT_INPUT)
    display = Display(not args.headless)
    if not args.out and config.render.layers and not (args.webcam and display.enabled):
        suffix = "" if args.images else ".mp4"
        args.out = str(OUT_DIR / f"{_input_stem(args)}_annotated{suffix}")
    if not args.headless and not display.enabled:
        where = f"; writing {args.out}" if args.out else ""
        print(f"note: not showing a window: {display.reason}{where}", file=sys.stderr)

    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return _run(args, config, source, display)
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
        signal.signal(signal.SIGTERM, previous_term)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _run(args: argparse.Namespace, config: PipelineConfig, source: Source, display: Display) -> int:
    """The frame loop; every sink is closed (completed) whatever happens."""
    written: list[str] = []
    count, start, status = 0, time.perf_counter(), EXIT_OK
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
        results = pipeline.stream(source, not args.sequential, independent=bool(args.images))
        stack.callback(results.close)  # stops the background threads before the source closes
        try:
            start = time.perf_counter()
            for frame, result in results:
                sinks.write(frame, result)
                count += 1
                for k in STAGES:
                    totals[k] += result.latency_ms[k]
                shown = display.enabled and result.annotated is not None
                if shown and not display.show(result.annotated):
                    break  # the user closed the window
        except KeyboardInterrupt:
            print(f"\nmeshpose-demo: interrupted after {count} frames", file=sys.stderr)
            status = EXIT_INTERRUPTED
        raster = pipeline.renderer.backend if pipeline.renderer is not None else "none"
    elapsed = time.perf_counter() - start
    if count:
        per = " ".join(f"{k} {totals[k] / count:.1f}" for k in STAGES)
        print(
            f"meshpose-demo: {count} frames in {elapsed:.1f} s ({count / elapsed:.1f} FPS); "
            f"mean ms per frame: {per}; rasterizer {raster}",
            file=sys.stderr,
        )
    for path in written:
        print(f"wrote {path}")
    return status


def _protected_close(sinks: _Sinks) -> None:
    """Close the outputs with Ctrl-C ignored, so a second Ctrl-C cannot corrupt them."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sinks.close()
    finally:
        signal.signal(signal.SIGINT, previous)


class _Sinks:
    """The outputs the arguments ask for, opened at the first frame (when its size is known)."""

    def __init__(
        self, args: argparse.Namespace, pipeline: Pipeline, source: Source, written: list[str]
    ) -> None:
        self.args, self.pipeline, self.source, self.written = args, pipeline, source, written
        self.open: list[Sink] = []
        self.started = False
        self.video: VideoSink | None = None
        self.images: ImageSink | None = None
        self.json: JsonSink | None = None
        self.obj: ObjSink | None = None
        self.npz: NpzSink | None = None

    def _start(self, frame: Frame) -> None:
        a = self.args
        if a.out and a.images:
            self.images = self._add(ImageSink(a.out), a.out)
        elif a.out:
            fps = self.source.fps
            self.video = self._add(VideoSink(a.out, frame.width, frame.height, fps), a.out)
        if a.export_json:
            meta = {
                "model": self.pipeline.network.name,
                "input": self.source.description,
                "width": frame.width,
                "height": frame.height,
                "fps": float(self.source.fps),
                "topology": f"meshpose-low-{LEVEL_SIZES['low']} v{FORMAT_VERSION}",
            }
            self.json = self._add(JsonSink(a.export_json, meta), a.export_json)
        if a.export_obj:
            self.obj = self._add(ObjSink(a.export_obj), a.export_obj)
        if a.export_npz:
            self.npz = self._add(NpzSink(a.export_npz), a.export_npz)

    def _add(self, sink: SinkT, path: str) -> SinkT:
        self.open.append(sink)
        self.written.append(path)
        return sink

    def write(self, frame: Frame, result: FrameResult) -> None:
        """All outputs of one frame, not cut in half by Ctrl-C (it is handled right after)."""
        with interrupts_deferred():
            self._write(frame, result)

    def _write(self, frame: Frame, result: FrameResult) -> None:
        if not self.started:
            self.started = True
            self._start(frame)
        stem = Path(frame.name).stem if frame.name else None
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

    def close(self) -> None:
        """Close every output, even when one of them fails (that error is raised after)."""
        error: BaseException | None = None
        for sink in self.open:
            try:
                sink.close()
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error


if __name__ == "__main__":
    raise SystemExit(main())
