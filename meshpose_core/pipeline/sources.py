"""Frame sources: a webcam, a video file or images, all yielding the same ``Frame``.

Every source yields (H, W, 3) uint8 RGB C-contiguous frames whatever the input holds
(grayscale, alpha, 16 bit, odd sizes), with a timestamp in seconds and a 0-based index, and
knows its frame rate, so the stages after it never branch on where frames come from. Every
failure (missing camera, missing, corrupt, truncated or unsupported file) is one
``SourceError`` with a message that fits on one line, except one unreadable image in a
folder: it is reported (``on_skip``) and skipped, so a batch is not lost to one bad file.
Videos are turned upright by their rotation metadata (phone clips), so frames and every
coordinate derived from them are as the video is meant to be seen.
"""

from __future__ import annotations

import abc
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from meshpose_core.closeable import Closeable

if TYPE_CHECKING:
    import av

IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_FPS = 30.0  # when a camera or a file does not say
# OpenCV reads index // 100 as a capture API (200: V4L2, 700: DirectShow) and -1 as "any":
# only 0..99 name a camera of the default API (-1 crashed some V4L2 builds)
MAX_CAMERA_INDEX = 99
MIN_SIDE = 2  # pixels: a smaller image has nothing to find and breaks the resizes
URL_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
STREAM_TIMEOUT_S = 10.0  # opening or reading a stream URL


class SourceError(RuntimeError):
    """An input cannot be opened or read; the message is one line for the user."""


@dataclass(frozen=True, eq=False)
class Frame:
    """One input frame. image (H, W, 3) uint8 RGB; timestamp in seconds from the source start;
    name: the file name for image inputs (None for video and webcam)."""

    image: np.ndarray
    timestamp: float
    index: int
    name: str | None = None

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def as_rgb8(image: np.ndarray, channel_order: str = "bgr") -> np.ndarray:
    """Any decoded image -> (H, W, 3) uint8 RGB, C-contiguous.

    Accepts (H, W), (H, W, 1), (H, W, 3) and (H, W, 4) arrays of uint8 or uint16 (16-bit is
    shifted down); ``channel_order`` says whether colour input is "bgr" (OpenCV) or "rgb".
    """
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise SourceError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise SourceError(f"unsupported image shape {image.shape}")
    if min(image.shape[:2]) < MIN_SIDE:
        h, w = image.shape[:2]
        raise SourceError(f"image of {w}x{h} pixels is too small (at least {MIN_SIDE}x{MIN_SIDE})")
    if image.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(image, 3, axis=2))
    rgb = image[:, :, :3]
    if channel_order == "bgr":
        rgb = rgb[:, :, ::-1]
    return np.ascontiguousarray(rgb)


class Source(Closeable, abc.ABC):
    """An iterable of ``Frame``; use as a context manager (or call ``close``)."""

    description: str = "source"
    fps: float = DEFAULT_FPS  # 0.0 for still images
    live: bool = False  # frames come at their own pace and go stale (a camera)
    frame_count: int | None = None  # None when unknown (webcam, some containers)

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None:
        """Release the device or file."""


def check_camera_index(index: int) -> int:
    """``index`` if it names a camera (0 to ``MAX_CAMERA_INDEX``), else ``ValueError``."""
    if not 0 <= index <= MAX_CAMERA_INDEX:
        raise ValueError(
            f"camera index must be 0 to {MAX_CAMERA_INDEX} (0: the first), got {index}"
        )
    return index


@dataclass(frozen=True)
class CameraOptions:
    """What to ask a webcam for: width x height and fps (None: the camera's default; the
    driver picks its nearest mode, ``WebcamSource`` reports what it got), mirror: flip
    frames left-right, like a mirror (the usual selfie view)."""

    width: int | None = None
    height: int | None = None
    fps: float | None = None
    mirror: bool = False


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720); ``ValueError`` (one line) otherwise."""
    w, sep, h = text.lower().partition("x")
    if not (sep and w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0):
        raise ValueError(f"size must be WIDTHxHEIGHT, e.g. 1280x720, got {text!r}")
    return int(w), int(h)


class WebcamSource(Source):
    """A camera by index through OpenCV; timestamps are wall-clock seconds since opening."""

    live = True

    def __init__(self, index: int = 0, options: CameraOptions | None = None) -> None:
        self.options = options = options or CameraOptions()
        try:
            check_camera_index(index)
        except ValueError as exc:
            raise SourceError(str(exc)) from None
        self.description = f"webcam:{index}"
        previous = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # no V4L warnings
        try:
            self._capture = cv2.VideoCapture(index)
            opened = self._capture.isOpened()
        finally:
            cv2.utils.logging.setLogLevel(previous)
        if not opened:
            self._capture.release()
            raise SourceError(
                f"no camera found at index {index}: connect a webcam (or try --camera N), "
                "or process a file with --video PATH or --images PATH"
            )
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, options.width),
            (cv2.CAP_PROP_FRAME_HEIGHT, options.height),
            (cv2.CAP_PROP_FPS, options.fps),
        ):
            if value is not None:
                self._capture.set(prop, float(value))
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0) or DEFAULT_FPS
        size = (
            self._capture.get(cv2.CAP_PROP_FRAME_WIDTH),
            self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT),
        )
        if all(size):
            self.description += f" {int(size[0])}x{int(size[1])}"
        if options.mirror:
            self.description += " mirrored"

    def __iter__(self) -> Iterator[Frame]:
        start = time.monotonic()
        index = 0
        while True:
            ok, bgr = self._capture.read()
            if not ok:  # unplugged or closed: the stream simply ends
                return
            if self.options.mirror:
                bgr = bgr[:, ::-1]
            yield Frame(as_rgb8(bgr), time.monotonic() - start, index)
            index += 1

    def close(self) -> None:
        self._capture.release()


def is_url(text: str | Path) -> bool:
    """Whether ``text`` is a URL (``rtsp://``, ``http://``, ``udp://``, ...) for FFmpeg."""
    return isinstance(text, str) and URL_PATTERN.match(text) is not None


class VideoSource(Source):
    """A video file or a stream URL decoded by PyAV (FFmpeg): any container, codec and
    protocol FFmpeg reads (RTSP, HTTP(S), HLS, UDP, ...). A stream that stalls for
    ``STREAM_TIMEOUT_S`` ends with a ``SourceError``."""

    def __init__(self, path: str | Path) -> None:
        import av

        url = is_url(path)
        self.path: str | Path = str(path) if url else Path(path)
        self.description = str(path)
        if not url:
            path = Path(path)
            if not path.exists():
                raise SourceError(f"video file not found: {path}")
            if path.is_dir():
                raise SourceError(f"{path} is a folder: use --images for a folder of images")
            if path.suffix.lower() in IMAGE_SUFFIXES:
                raise SourceError(f"{path} is an image: use --images for image files")
        try:
            options = {"rtsp_transport": "tcp"} if str(path).lower().startswith("rtsp") else {}
            self._container = av.open(
                str(path), options=options, timeout=STREAM_TIMEOUT_S if url else None
            )
        except (av.error.FFmpegError, OSError) as exc:
            what = "stream" if url else "video"
            raise SourceError(
                f"cannot read {what} {path}: not a video, unsupported format, unreachable "
                f"or corrupt ({_reason(exc)})"
            ) from exc
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"{path} has no video stream")
        self._stream = stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"  # frame-threaded decoding: ~2x on two cores
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate else DEFAULT_FPS
        self.frame_count = int(stream.frames) or None
        self._check_count = self._container.format.name.startswith("mov")

    def __iter__(self) -> Iterator[Frame]:
        import av

        index = 0
        try:
            for vf in self._container.decode(self._stream):
                t = float(vf.time) if vf.time is not None else index / self.fps
                yield Frame(as_rgb8(upright(vf), "rgb"), t, index)
                index += 1
        except av.error.FFmpegError as exc:
            raise SourceError(
                f"video {self.path} is truncated or corrupt after frame {index} ({_reason(exc)})"
            ) from exc
        if index == 0:
            raise SourceError(f"video {self.path} has no decodable frame")
        if self._check_count and self.frame_count and index < self.frame_count:
            raise SourceError(
                f"video {self.path} is truncated: decoded {index} of {self.frame_count} frames"
            )

    def close(self) -> None:
        self._container.close()


def upright(vf: av.VideoFrame) -> np.ndarray:
    """A decoded frame as (H, W, 3) RGB turned as its display matrix says (``rotation``:
    degrees counter-clockwise, e.g. -90 for a phone held upright)."""
    rgb = vf.to_ndarray(format="rgb24")
    turns = round(vf.rotation / 90) % 4
    return np.rot90(rgb, turns) if turns else rgb


class ImageSource(Source):
    """One image file, or every image in a folder (not recursive) in sorted file-name order.

    In a folder an unreadable image is skipped: ``on_skip(message)`` is called (one line
    naming the file) and it is listed in ``skipped``; frame indices count the images read.
    A single unreadable file, or a folder with none readable, is a ``SourceError``."""

    fps = 0.0

    def __init__(self, path: str | Path, on_skip: Callable[[str], None] | None = None) -> None:
        path = Path(path)
        self.on_skip = on_skip
        self.skipped: list[Path] = []
        self.folder = path.is_dir()
        self.description = str(path)
        if not path.exists():
            raise SourceError(f"image path not found: {path}")
        if path.is_dir():
            self.files = sorted(
                (p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                key=lambda p: p.name,
            )
            if not self.files:
                raise SourceError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}")
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            self.files = [path]
        else:
            raise SourceError(
                f"unsupported image format '{path.suffix}' of {path} "
                f"(supported: {', '.join(IMAGE_SUFFIXES)}; use --video for videos)"
            )
        self.frame_count = len(self.files)

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        for path in self.files:
            try:
                image = read_image(path)
            except SourceError as exc:
                if not self.folder:
                    raise
                self.skipped.append(path)
                if self.on_skip is not None:
                    self.on_skip(f"skipped: {exc}")
                continue
            yield Frame(image, 0.0, index, path.name)
            index += 1
        if self.folder and index == 0:
            raise SourceError(f"no readable image in folder {self.description}")


def read_image(path: Path) -> np.ndarray:
    """Decode an image file (any path, EXIF orientation applied) -> (H, W, 3) uint8 RGB."""
    try:
        data = np.fromfile(path, np.uint8)  # cv2.imread fails on non-ASCII paths on Windows
    except OSError as exc:
        raise SourceError(f"cannot read image {path}: {_reason(exc)}") from exc
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise SourceError(f"cannot decode image {path}: corrupt, truncated or not an image")
    return as_rgb8(bgr)


def open_source(
    *,
    webcam: int | None = None,
    video: str | Path | None = None,
    images: str | Path | None = None,
    on_skip: Callable[[str], None] | None = None,
    camera: CameraOptions | None = None,
) -> Source:
    """Open exactly one of the three kinds of input (``video``: a file or a stream URL;
    ``camera``: what to ask the webcam for; ``on_skip``: see ``ImageSource``)."""
    given = [x is not None for x in (webcam, video, images)]
    if sum(given) != 1:
        raise ValueError("give exactly one of webcam, video, images")
    if webcam is not None:
        return WebcamSource(webcam, camera)
    if video is not None:
        return VideoSource(video)
    return ImageSource(images, on_skip)  # type: ignore[arg-type]


def _reason(exc: BaseException) -> str:
    """An exception's message on one line, without FFmpeg's repeated file name."""
    text = str(getattr(exc, "strerror", None) or exc)
    return " ".join(text.split())
