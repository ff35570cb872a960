"""The one-call API: a picture or a video frame in, typed people out.

    from meshpose_core import MeshPoseLive

    with MeshPoseLive(mode="image") as live:          # or mode="video" for a stream
        for person in live(cv2.imread("photo.jpg")).people:   # BGR, as OpenCV gives it
            person.vertices, person.faces, person.visibility, person.keypoints

Built once (the model, detector and renderer load in the constructor), called per picture.
``mode="image"`` treats every call as an unrelated picture (tracking reset each time);
``mode="video"`` follows people from call to call (track ids, smoothing). Arrays are BGR by
default, like OpenCV's ``imread`` / ``VideoCapture`` (``color="rgb"`` for RGB ones, e.g. from
PIL or imageio); paths are decoded here. Nothing is drawn unless ``draw`` asks for it. A thin
layer over ``pipeline.Pipeline``: everything here is also reachable from the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshpose_core.closeable import Closeable
from meshpose_core.detection import DEFAULT_PERSON_DETECTOR
from meshpose_core.model.checkpoint import DEFAULT_MODEL
from meshpose_core.pipeline import (
    DensePoseFrame,
    NetworkConfig,
    Pipeline,
    PipelineConfig,
    RenderConfig,
    SmoothingConfig,
    TrackerConfig,
    parse_layers,
)
from meshpose_core.pipeline.camera_space import CameraSpaceConfig
from meshpose_core.pipeline.layers import DEFAULT_LAYERS
from meshpose_core.pipeline.sources import Frame, as_rgb8, read_image
from meshpose_core.topology import Topology

MODES: tuple[str, ...] = ("image", "video")
COLORS: tuple[str, ...] = ("bgr", "rgb")


@dataclass(frozen=True, eq=False)
class Person:
    """One person in one picture (image pixels: x right, y down, top-left pixel centre 0).

    vertices (6890, 3): the mesh, x, y in pixels, z depth relative to the hips in pixels
    (larger = farther); faces (13776, 3) int32 vertex indices, shared by everyone;
    visibility (6890,) in [0, 1]; keypoints (17, 3) COCO x, y, score; box (4,) x0, y0, x1,
    y1; vertices_camera (6890, 3) metres in the camera frame (x right, y down, z forward)
    with ``camera_space=True``; iuv (H, W, 3) uint8 this person's DensePose I, U*255, V*255
    (0 elsewhere) and mask (H, W) bool their visible pixels, with ``iuv=True``.
    """

    track_id: int
    box: np.ndarray
    score: float
    keypoints: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray
    visibility: np.ndarray
    vertices_camera: np.ndarray | None = None
    iuv: np.ndarray | None = None
    mask: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class LiveResult:
    """people in the frame's order (the JSON export's); annotated: the drawn picture in the
    call's ``color`` order (None unless ``draw``); densepose: the frame's IUV and person index
    (``iuv=True``)."""

    people: list[Person]
    width: int
    height: int
    annotated: np.ndarray | None = None
    densepose: DensePoseFrame | None = None


class MeshPoseLive(Closeable):
    """Build once, call per picture (see the module docstring).

    Args:
        mode: "image" (unrelated pictures) or "video" (frames of one stream, in order).
        model: a preset name or a weights path; default the shipped weights.
        iuv: also render each person's DensePose IUV and mask.
        camera_space: also give each mesh in metres (``pipeline.camera_space``), assuming
            ``fov_deg`` across the larger image side and every person ``height_m`` tall.
        draw: False, True (the CLI's default layers) or a layer list like "mesh,keypoints".
        smooth: temporal smoothing strength in video mode (0 off, 1 normal: the default).
        detector, device, backend, threads, renderer, max_people: as the CLI's options.

    Use from one thread (the renderer's OpenGL context belongs to the thread that made it).
    """

    def __init__(
        self,
        mode: str = "video",
        model: str | Path = DEFAULT_MODEL,
        *,
        iuv: bool = False,
        camera_space: bool = False,
        fov_deg: float | None = None,
        height_m: float | None = None,
        draw: bool | str = False,
        smooth: float = SmoothingConfig.strength,
        detector: str = DEFAULT_PERSON_DETECTOR,
        max_people: int = TrackerConfig.max_tracks,
        device: str = NetworkConfig.device,
        backend: str = NetworkConfig.backend,
        threads: int = NetworkConfig.threads,
        renderer: str = RenderConfig.renderer,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        layers = parse_layers(DEFAULT_LAYERS if draw is True else draw or "")
        config = PipelineConfig(
            network=NetworkConfig(
                model=str(model), device=device, backend=backend, threads=threads
            ),
            person_detector=detector,
            tracker=TrackerConfig(max_tracks=max_people),
            smoothing=SmoothingConfig(strength=smooth if mode == "video" else 0.0),
            render=RenderConfig(layers=layers, renderer=renderer, densepose=iuv),
            camera=CameraSpaceConfig(camera_space, fov_deg, height_m),
        )
        self.pipeline = Pipeline(config)
        self.faces = Topology.load("high").faces.astype(np.int32)
        self.faces.flags.writeable = False
        self._index = 0

    def __call__(
        self, image: str | Path | np.ndarray, color: str = "bgr", timestamp: float | None = None
    ) -> LiveResult:
        """One picture -> its people.

        image: a file path, or an (H, W, 3) / (H, W, 4) / (H, W) uint8 (or uint16) array;
        color: the array's channel order, "bgr" (OpenCV, the default) or "rgb", and that of
        ``annotated`` (a path is decoded whatever it says); timestamp: seconds, for smoothing
        in video mode (default: 30 frames a second). ``SourceError`` (one line) for an
        unreadable file or an unsupported array, ``ValueError`` for a bad argument.
        """
        rgb = to_rgb(image, color)
        if self.mode == "image":
            self.pipeline.reset()
        t = self._index / 30.0 if timestamp is None else float(timestamp)
        result = self.pipeline.process(Frame(rgb, t, self._index))
        self._index += 1
        dp = result.densepose
        people = []
        for k, p in enumerate(result.people, start=1):
            mask = None if dp is None else dp.person_index == k
            people.append(
                Person(
                    track_id=p.track_id,
                    box=p.box,
                    score=p.score,
                    keypoints=p.keypoints,
                    vertices=p.vertices_high,
                    faces=self.faces,
                    visibility=p.visibility_high,
                    vertices_camera=p.vertices_high_camera,
                    iuv=None if dp is None else np.where(mask[..., None], dp.iuv, 0),
                    mask=mask,
                )
            )
        annotated = result.annotated
        if annotated is not None and color == "bgr":
            annotated = np.ascontiguousarray(annotated[..., ::-1])
        return LiveResult(people, result.width, result.height, annotated, dp)

    def close(self) -> None:
        """Release the renderer (from the thread that called)."""
        self.pipeline.close()


def to_rgb(image: str | Path | np.ndarray, color: str = "bgr") -> np.ndarray:
    """A path (decoded) or an array in ``color`` order -> (H, W, 3) uint8 RGB; ``ValueError``
    (one line) for a bad argument, ``SourceError`` for an unreadable file or array."""
    if color not in COLORS:
        raise ValueError(f"color must be one of {COLORS}, got {color!r}")
    if isinstance(image, (str, Path)):
        return read_image(Path(image))
    if not isinstance(image, np.ndarray):
        raise ValueError(f"expected a path or a numpy array, got {type(image).__name__}")
    return as_rgb8(image, color)
