"""The run options of ``meshpose-demo`` and the desktop app, apart from either.

One argparse parser whose defaults are the library's own (the stage config dataclasses:
``NetworkConfig``, ``TrackerConfig``, ``RenderConfig``, ...; no default is written twice), and
one mapping from options to ``PipelineConfig`` (``pipeline_config``). The CLI parses and runs
with them; the app starts from the same parser and rebuilds its pipeline through the same
mapping (its model panel holds a ``ModelOptions``), so a session in the window can be
repeated headless (``ModelOptions.to_args``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NoReturn

from meshpose_core import __version__
from meshpose_core.detection import (
    AUTO_DETECTOR,
    PERSON_DETECTORS,
    YoloxConfig,
    resolve_person_detector,
)
from meshpose_core.model.checkpoint import PRESET_NAMES
from meshpose_core.pipeline import (
    MotionGateConfig,
    NetworkConfig,
    PipelineConfig,
    RenderConfig,
    SmoothingConfig,
    TrackerConfig,
    parse_layers,
)
from meshpose_core.pipeline.camera_space import DEFAULT_FOV_DEG, CameraSpaceConfig
from meshpose_core.pipeline.layers import DEFAULT_LAYERS, IUV_STYLES, LAYERS, RENDERERS
from meshpose_core.pipeline.network import BACKENDS
from meshpose_core.pipeline.sources import check_camera_index, parse_size
from meshpose_core.resources import asset_path
from meshpose_core.tryon import parse_outfit
from meshpose_core.tryon.regions import REGIONS

SAMPLE_CLIP = asset_path("samples", "gym_run.mp4")
OUT_DIR = Path("out")
# what the drawn mesh covers: the person's outline (the body widened by the weights'
# fitted outline scales: clothes and hair) or the body surface itself
SURFACES: tuple[str, ...] = ("outline", "body")

# exit statuses of the CLI (and of the app started from it)
EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_SKIPPED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass(frozen=True)
class ModelOptions:
    """The options that need a new ``Pipeline`` (model, backend and the tracking options),
    named as the parser's destinations; defaults are the stage configs' own."""

    model: str = NetworkConfig.model  # preset name (xs, s, l, xs_bp) or a weights file path
    backend: str = NetworkConfig.backend
    device: str = NetworkConfig.device
    threads: int = NetworkConfig.threads
    renderer: str = RenderConfig.renderer
    max_people: int = TrackerConfig.max_tracks
    smoothing: float = SmoothingConfig.strength
    detect_every: int = TrackerConfig.detect_every
    always_detect: bool = not MotionGateConfig.enabled
    detection_lag: int = PipelineConfig.detection_lag
    detector: str = AUTO_DETECTOR  # resolve_person_detector: by the kind of input
    surface: str = SURFACES[0] if NetworkConfig.outline else SURFACES[1]
    detector_score: float = YoloxConfig.score_threshold

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ModelOptions:
        """These options of parsed arguments (``build_parser``)."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(ModelOptions)})

    def to_args(self) -> list[str]:
        """The command-line options that give these values (``from_args`` reversed)."""
        return [
            f"--model={self.model}",
            f"--backend={self.backend}",
            f"--device={self.device}",
            f"--threads={self.threads}",
            f"--renderer={self.renderer}",
            f"--max-people={self.max_people}",
            f"--smooth={self.smoothing:g}",
            f"--detect-every={self.detect_every}",
            *(["--always-detect"] if self.always_detect else []),
            f"--detection-lag={self.detection_lag}",
            f"--detector={self.detector}",
            f"--surface={self.surface}",
            f"--detector-score={self.detector_score:g}",
        ]


def pipeline_config(
    model: ModelOptions,
    layers: tuple[tuple[str, float], ...],
    outfits: tuple[tuple[str, ...], ...] = (),
    *,
    video_opacity: float = RenderConfig.video_opacity,
    iuv_style: str = RenderConfig.iuv_mode,
    iuv_fill: float = RenderConfig.iuv_fill_reach,
    densepose: bool = False,
    camera: CameraSpaceConfig | None = None,
    live: bool = False,
) -> PipelineConfig:
    """The library configuration of the run options: the one mapping, for the CLI and the
    app. layers: (name, opacity) as ``parse_layers`` gives; outfits: ``parse_outfit``'s;
    live: the input is a camera (the "auto" detector is then BlazePose's)."""
    return PipelineConfig(
        network=NetworkConfig(
            model=model.model,
            device=model.device,
            backend=model.backend,
            threads=model.threads,
            outline=model.surface == "outline",
        ),
        person_detector=resolve_person_detector(model.detector, live),
        yolox=YoloxConfig(score_threshold=model.detector_score),
        tracker=TrackerConfig(detect_every=model.detect_every, max_tracks=model.max_people),
        motion=MotionGateConfig(enabled=not model.always_detect),
        detection_lag=model.detection_lag,
        smoothing=SmoothingConfig(strength=model.smoothing),
        render=RenderConfig(
            layers=layers,
            renderer=model.renderer,
            outfits=outfits,
            iuv_mode=iuv_style,
            iuv_fill_reach=iuv_fill,
            densepose=densepose,
            video_opacity=video_opacity,
        ),
        camera=camera or CameraSpaceConfig(),
    )


def outfits_of(args: argparse.Namespace) -> tuple[tuple[str, ...], ...]:
    """The outfits of the ``--garment`` options (``GarmentError`` for an empty garment)."""
    return tuple(parse_outfit(spec) for spec in args.garment)


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """``pipeline_config`` of parsed arguments (``ValueError`` for a bad ``--layers``)."""
    return pipeline_config(
        ModelOptions.from_args(args),
        parse_layers(args.layers),
        outfits_of(args),
        video_opacity=args.video_opacity,
        iuv_style=args.iuv_style,
        iuv_fill=args.iuv_fill,
        densepose=bool(args.export_iuv),
        camera=CameraSpaceConfig(
            args.camera_space or bool(args.export_glb), args.fov, args.body_height
        ),
        live=bool(args.webcam),
    )


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
    """The parser of ``meshpose-demo``; its defaults are the library's (``ModelOptions``,
    ``RenderConfig``)."""
    model_defaults, render_defaults = ModelOptions(), RenderConfig()
    ap = _Parser(
        prog="meshpose-demo",
        description="3D body mesh and DensePose for every person in a webcam stream, a video or "
        "images (MeshPose, CVPR 2024). Without arguments: the bundled sample clip, headless, "
        "into out/gym_run_annotated.mp4 and out/gym_run.json.",
        formatter_class=_HelpFormatter,
    )
    src = ap.add_argument_group("input (one of)").add_mutually_exclusive_group()
    src.add_argument("--webcam", action="store_true", help="read a webcam (see --camera)")
    src.add_argument(
        "--video",
        metavar="PATH|URL",
        help="read a video file or a stream URL (rtsp://, http://, udp://: what FFmpeg opens)",
    )
    src.add_argument("--images", metavar="PATH", help="an image file or a folder of images")
    ap.add_argument("--camera", type=_camera, default=0, metavar="N", help="webcam index")
    ap.add_argument(
        "--camera-size", type=parse_size, metavar="WxH", help="ask the webcam for this size"
    )
    ap.add_argument("--camera-fps", type=float, metavar="FPS", help="ask the webcam for this rate")
    ap.add_argument("--mirror", action="store_true", help="flip webcam frames left-right")
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")

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
    out.add_argument(
        "--export-glb",
        metavar="PATH",
        help="one .glb of the run: every tracked person's mesh (UVs) animated frame by frame "
        "(morph targets), placed in metres as --camera-space does",
    )
    out.add_argument(
        "--camera-space",
        action="store_true",
        help="also give each mesh in metres in the camera frame (JSON/NPZ vertices_camera), "
        "assuming --fov and --body-height",
    )
    out.add_argument(
        "--fov",
        type=float,
        metavar="DEG",
        help=f"camera field of view across the larger image side (default {DEFAULT_FOV_DEG:.1f})",
    )
    out.add_argument(
        "--body-height",
        type=float,
        metavar="M",
        help="everyone's height in metres for --camera-space (default: the template's, 1.62)",
    )
    out.add_argument(
        "--export-iuv",
        metavar="DIR",
        help="per frame the DensePose IUV image and per-pixel person index as lossless PNGs "
        "(<frame>_IUV.png, <frame>_INDS.png, DensePose's convention)",
    )

    model = ap.add_argument_group("model")
    default_model = model_defaults.model
    model.add_argument(
        "--model",
        default=default_model,
        help=f"{' | '.join(PRESET_NAMES)} (weights/meshpose_<name>.safetensors) or a "
        f".safetensors / .onnx / .tflite path (default {default_model}: the shipped model)",
    )
    model.add_argument(
        "--device",
        default=model_defaults.device,
        choices=("auto", "cpu", "cuda"),
        help="auto: CUDA (fp16) when a GPU is available, else CPU",
    )
    model.add_argument(
        "--backend",
        default=model_defaults.backend,
        choices=BACKENDS,
        help="auto: torch on CUDA; on a CPU LiteRT (XNNPACK) when the weights have an exported "
        ".tflite (the shipped ones do), else onnxruntime",
    )

    model.add_argument(
        "--surface",
        default=model_defaults.surface,
        choices=SURFACES,
        help="outline (default): the mesh covers the person as seen, clothes and hair "
        "(the body widened about each bone by scales fitted to people's masks); body: the "
        "body surface the network predicts. Keypoints are the same",
    )
    model.add_argument(
        "--threads",
        type=_thread_count,
        default=model_defaults.threads,
        metavar="N",
        help="CPU threads of the network (use 1 on a busy machine: threads that wait on "
        "each other slow down badly when other programs take the cores)",
    )

    proc = ap.add_argument_group("processing and display")
    proc.add_argument(
        "--renderer",
        default=model_defaults.renderer,
        choices=RENDERERS,
        help="moderngl: OpenGL (headless EGL), compiled CPU loops paint where it is software "
        "or absent; cpu: no OpenGL (the compiled CPU loops); "
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
        "--video-opacity",
        type=_unit_float,
        default=render_defaults.video_opacity,
        metavar="OPACITY",
        help="the input frame under the layers, faded toward black: 1 as read, 0 black "
        "(the meshes on their own)",
    )
    proc.add_argument(
        "--iuv-style",
        default=render_defaults.iuv_mode,
        choices=IUV_STYLES,
        help="look of the iuv layer (apply_net's visualisations): contour: U, V isolines on "
        "part colours; parts: part segmentation; u / v: the coordinate in a colour map",
    )
    proc.add_argument(
        "--iuv-fill",
        type=_non_negative_float,
        default=render_defaults.iuv_fill_reach,
        metavar="REACH",
        help="the iuv layer and --export-iuv also label the person's mask (the network's "
        "foreground: clothes, hair) where the mesh does not cover it, up to REACH x the "
        "person's height from their mesh; 0: the mesh's own outline",
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
        default=model_defaults.max_people,
        metavar="N",
        help="follow at most N people (the earliest seen are kept)",
    )
    proc.add_argument(
        "--smooth",
        dest="smoothing",
        type=_non_negative_float,
        default=model_defaults.smoothing,
        metavar="STRENGTH",
        help="temporal smoothing of the meshes (One-Euro filter): 0 off, 1 normal, 2 strong",
    )
    proc.add_argument(
        "--sequential",
        action="store_true",
        help="process each frame completely before reading the next (lowest latency per "
        "frame; by default decoding, inference and drawing of neighbouring frames overlap "
        "on separate threads: more frames per second; with --webcam, by default sequential "
        "while that keeps up with the camera)",
    )
    proc.add_argument(
        "--detector",
        default=model_defaults.detector,
        choices=(AUTO_DETECTOR, *PERSON_DETECTORS),
        help="who finds people: yolox (every visible person, any pose), blazepose (face and "
        "upper body, with the whole body's scale: a person close to the camera, cut by the "
        "frame) or auto: blazepose for --webcam; for files and pictures blazepose when the "
        "first frame with someone is a close-up cut by the frame's bottom, else yolox",
    )
    proc.add_argument(
        "--detector-score",
        type=_unit_float,
        default=model_defaults.detector_score,
        metavar="SCORE",
        help="YOLOX keeps people scoring at least this; below the tracker's confident score "
        f"({TrackerConfig.confident_score:g}) one is drawn only when its mesh looks like a "
        "person (lower: more people found, more false ones)",
    )
    proc.add_argument(
        "--detect-every",
        type=_positive_int,
        default=model_defaults.detect_every,
        metavar="N",
        help="run the person detector every N frames (sooner when a track is lost)",
    )
    proc.add_argument(
        "--always-detect",
        action="store_true",
        default=model_defaults.always_detect,
        help="run every scheduled detection; by default one is skipped (up to 3 in a row) "
        "while nothing moved outside the tracked people, where no newcomer can be",
    )
    proc.add_argument(
        "--detection-lag",
        type=_count,
        default=model_defaults.detection_lag,
        metavar="N",
        help="a scheduled detection (looking for newcomers while everyone is tracked) runs "
        "beside the next N frames on a second core and is used on the Nth; 0: it holds up "
        "its own frame (a lost or new person is always looked for at once)",
    )
    return ap


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _thread_count(text: str) -> int:
    value = _positive_int(text)
    if value > 256:  # the runtimes take a C int; more threads than this is a typo
        raise argparse.ArgumentTypeError(f"must be <= 256, got {value}")
    return value


def _camera(text: str) -> int:
    try:
        return check_camera_index(int(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _unit_float(text: str) -> float:
    value = _non_negative_float(text)
    if value > 1.0:
        raise argparse.ArgumentTypeError(f"must be <= 1, got {text}")
    return value
