"""Outputs: annotated video / images, JSON, OBJ meshes, NPZ arrays and DensePose IUV images.

Every sink is a context manager whose ``close`` is idempotent and leaves a complete file, so
the caller closes them in ``finally`` and an interrupted run (Ctrl-C, SIGTERM) keeps a
playable video and a valid JSON of every frame processed so far; writing each frame inside
``interrupts_deferred()`` keeps a signal from cutting a write in half. Every file is written
under ``output_paths.partial_path`` and renamed to its name once complete, so the final name
never holds half a file. What a hard kill (SIGKILL) leaves, under the ``.partial`` name, is
still readable: the MP4 is fragmented (a fragment a second, each playable on its own) and the
JSON is closed after every frame. JSON schema: ``export_schema.json`` beside this file
(documented in docs/pipeline.md).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import signal
import threading
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from meshpose_core.closeable import Closeable
from meshpose_core.topology import FORMAT_VERSION, LEVEL_SIZES, Topology

from .camera_space import CameraSpaceConfig, camera_meta
from .output_paths import finish, partial_path
from .results import FrameResult, PersonResult

SCHEMA_PATH = Path(__file__).with_name("export_schema.json")
# FFmpeg mp4 muxer options of VideoSink: fragments of about a second, flushed as written
MP4_FRAGMENTS = (
    ("movflags", "frag_keyframe+empty_moov+default_base_moof"),
    ("frag_duration", "1000000"),  # microseconds
    ("flush_packets", "1"),
)


class SinkError(RuntimeError):
    """An output cannot be written; the message is one line for the user."""


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT / SIGTERM until the block ends, then act on them (main thread only).

    A Ctrl-C landing inside an encoder call can drop packets it already produced; losing
    the first keyframe makes the whole video undecodable. Writing each frame's outputs
    inside this block makes a frame either fully written everywhere or not at all. The
    Python-level handlers are swapped (not the OS signal mask), so a signal that arrived
    just before the block but is handled inside it is held as well.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: object) -> None:
        held.append(signum)

    signals = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {s: signal.signal(s, hold) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if held:
            handler = previous[held[0]]
            if callable(handler):
                handler(held[0], None)  # Python's SIGINT handler raises KeyboardInterrupt
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), held[0])


class Sink(Closeable):
    """Base: ``write`` per frame, ``close`` once (more calls are harmless)."""

    def close(self) -> None:
        """Finish the file."""


def _parent_ready(path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SinkError(f"cannot create folder {path.parent}: {exc.strerror or exc}") from exc
    return path


def even_padded(image: np.ndarray) -> np.ndarray:
    """Pad an (H, W, 3) image by one edge row / column where H or W is odd (yuv420p needs
    even sizes); even images are returned unchanged."""
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


class VideoSink(Sink):
    """H.264 (yuv420p) MP4 via PyAV at the input's size and frame rate. Odd sizes are padded
    by one pixel (H.264 4:2:0 needs even sizes).

    Fragmented MP4 (an empty ``moov``, then a ``moof`` + ``mdat`` fragment about every
    second, each flushed to disk): a recording killed without warning plays up to its last
    complete fragment, where a plain MP4 without its final index plays not at all."""

    def __init__(
        self, path: str | Path, width: int, height: int, fps: float, preset: str = "superfast"
    ) -> None:
        import av

        self.path = Path(path)
        if self.path.suffix.lower() != ".mp4":
            raise SinkError(f"video output must be an .mp4 file, got {self.path}")
        self.partial = partial_path(_parent_ready(self.path))
        try:
            self._container = av.open(
                str(self.partial), mode="w", format="mp4", options=dict(MP4_FRAGMENTS)
            )
        except (av.error.FFmpegError, OSError) as exc:
            raise SinkError(f"cannot write {self.path}: {exc}") from exc
        rate = Fraction(fps if fps > 0 else 30.0).limit_denominator(1001)
        self._stream = stream = self._container.add_stream("libx264", rate=rate)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": preset, "crf": "23"}
        self._count = 0
        self._closed = False

    @property
    def frames_written(self) -> int:
        return self._count

    def write(self, rgb: np.ndarray) -> None:
        """Append one frame ``rgb`` (H, W, 3) uint8 (padded to even sides); SinkError if the
        encoder or the disk fails."""
        import av

        frame = av.VideoFrame.from_ndarray(even_padded(rgb), format="rgb24")
        frame.pts = self._count
        try:
            self._container.mux(self._stream.encode(frame))
        except (av.error.FFmpegError, OSError) as exc:  # e.g. the disk is full
            raise SinkError(f"cannot write {self.partial}: {exc}") from exc
        self._count += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._container.mux(self._stream.encode(None))  # flush delayed frames
        finally:
            self._container.close()  # the last fragment and the random-access index
        finish(self.partial, self.path)


class ImageSink(Sink):
    """Annotated images in a folder, under the input's file name."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if self.folder.suffix.lower() in (".mp4", ".png", ".jpg", ".jpeg"):
            raise SinkError(f"--out for images must be a folder, got {self.folder}")
        _parent_ready(self.folder / "x")

    def write(self, rgb: np.ndarray, name: str) -> Path:
        """``rgb`` (H, W, 3) uint8 as ``name`` in the folder (format from its suffix, PNG
        without one); returns the path."""
        path = self.folder / name
        ok, data = cv2.imencode(path.suffix or ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if not ok:
            raise SinkError(f"cannot encode {path}")
        _write_whole(path, data.tobytes())
        return path


def _write_whole(path: Path, data: bytes) -> None:
    """Write a small file complete or not at all (``partial_path``, then renamed)."""
    partial = partial_path(path)
    try:
        partial.write_bytes(data)
        finish(partial, path)
    except OSError as exc:
        raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from exc


def person_json(p: PersonResult) -> dict[str, Any]:
    """One person in the export schema (rounded: 0.01 px, 0.001 for scores, 1 mm)."""
    out = {
        "track_id": int(p.track_id),
        "box": np.round(p.box.astype(float), 2).tolist(),
        "score": round(float(p.score), 4),
        "keypoints": _rounded_keypoints(p.keypoints),
        "vertices": np.round(p.vertices.astype(float), 2).tolist(),
        "visibility": np.round(p.visibility.astype(float), 3).tolist(),
    }
    if p.vertices_camera is not None:  # metres to the millimetre
        out["vertices_camera"] = np.round(p.vertices_camera.astype(float), 3).tolist()
    return out


def _rounded_keypoints(kp: np.ndarray) -> list[list[float]]:
    """(17, 3) -> x, y to 0.01 px, score to 0.001."""
    out = kp.astype(float)
    out[:, :2] = np.round(out[:, :2], 2)
    out[:, 2] = np.round(out[:, 2], 3)
    return out.tolist()


def nulled(value: Any) -> Any:
    """A JSON-ready value with every NaN / infinity replaced by None (JSON has no such
    numbers: ``json.dumps`` would write bare ``NaN`` tokens that strict parsers reject)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [nulled(v) for v in value]
    if isinstance(value, dict):
        return {k: nulled(v) for k, v in value.items()}
    return value


def export_meta(
    model: str,
    source: str,
    width: int,
    height: int,
    fps: float,
    camera: CameraSpaceConfig | None = None,
) -> dict[str, Any]:
    """The ``meta`` block of a JSON export (``export_schema.json``): the model's and input's
    names, the frame size and rate, the mesh topology, and with camera-space meshes the
    camera assumed. One function for every writer of the export (the CLI, the app)."""
    meta: dict[str, Any] = {
        "model": model,
        "input": source,
        "width": width,
        "height": height,
        "fps": float(fps),
        "topology": f"meshpose-low-{LEVEL_SIZES['low']} v{FORMAT_VERSION}",
    }
    if camera is not None and camera.enabled:
        meta["camera"] = camera_meta(camera, width, height)
    return meta


class JsonSink(Sink):
    """``{"meta": ..., "frames": [...]}``, a valid JSON document after every frame.

    Each frame is written over the previous closing brackets together with new ones, in one
    system call, so a hard kill leaves the frames so far, parseable. Non-finite numbers are
    written as ``null`` (with one ``RuntimeWarning`` per file)."""

    _END = b"\n]}\n"

    def __init__(self, path: str | Path, meta: dict[str, Any]) -> None:
        self.path = Path(path)
        self.partial = partial_path(_parent_ready(self.path))
        try:
            self._file: io.FileIO | None = io.FileIO(self.partial, "w")
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self._warned = False
        head = ('{"meta": ' + self._dumps(meta, None) + ',\n"frames": [').encode()
        self._end = 0
        self._append(head)
        self._first = True

    def _dumps(self, value: Any, separators: tuple[str, str] | None) -> str:
        try:
            return json.dumps(value, separators=separators, allow_nan=False)
        except ValueError:  # NaN / infinity somewhere (e.g. damaged weights)
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"{self.path}: non-finite numbers (NaN or infinity) written as null",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return json.dumps(nulled(value), separators=separators, allow_nan=False)

    def _append(self, data: bytes) -> None:
        """``data`` then the closing brackets, over the previous closing brackets."""
        assert self._file is not None, "JsonSink is closed"
        view = memoryview(data + self._END)
        try:
            self._file.seek(self._end)
            while view:  # one call for a regular file; the loop only guards short writes
                view = view[self._file.write(view) or 0 :]
        except OSError as exc:  # e.g. the disk is full: keep the frames before valid
            with contextlib.suppress(OSError):  # over bytes the file had: no new space
                self._file.seek(self._end)
                self._file.write(self._END)
                self._file.truncate()
            raise SinkError(f"cannot write {self.partial}: {exc.strerror or exc}") from exc
        self._end += len(data)

    def write(self, result: FrameResult, file_name: str | None = None) -> None:
        frame: dict[str, Any] = {"index": int(result.index)}
        if file_name is not None:
            frame["file"] = file_name
        frame["people"] = [person_json(p) for p in result.people]
        text = self._dumps(frame, (",", ":"))
        self._append((("\n" if self._first else ",\n") + text).encode())
        self._first = False

    def close(self) -> None:
        if self._file is None:
            return
        self._file.close()
        self._file = None
        finish(self.partial, self.path)


class ObjSink(Sink):
    """One Wavefront OBJ per frame and person: the 6890-vertex mesh with atlas UVs.

    Vertices are image pixels turned into a right-handed y-up frame: (x, -y, -z), i.e. x
    right, y up, z toward the camera (a rotation of the image frame, so faces stay
    counter-clockwise seen from outside). UVs (``vt``) are per face corner, deduplicated.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        _parent_ready(self.folder / "x")
        topo = Topology.load("high")
        uv, corner_uv = np.unique(
            topo.corner_atlas_uv.reshape(-1, 2).round(6), axis=0, return_inverse=True
        )
        faces = np.stack([topo.faces.reshape(-1) + 1, corner_uv.reshape(-1) + 1], axis=1)
        buf = io.StringIO()
        np.savetxt(buf, uv, fmt="vt %.6f %.6f")
        np.savetxt(buf, faces.reshape(-1, 6), fmt="f %d/%d %d/%d %d/%d")
        self._tail = buf.getvalue()

    def write(self, result: FrameResult, stem: str | None = None) -> list[Path]:
        paths = []
        for p in result.people:
            name = f"{stem or f'frame{result.index:06d}'}_id{p.track_id}.obj"
            buf = io.StringIO()
            buf.write(f"# MeshPose Live: frame {result.index}, track {p.track_id}; ")
            buf.write("image px, x right, y up (= -image y), z toward the camera\n")
            np.savetxt(buf, p.vertices_high * np.float32([1, -1, -1]), fmt="v %.3f %.3f %.3f")
            path = self.folder / name
            _write_whole(path, (buf.getvalue() + self._tail).encode())
            paths.append(path)
        return paths


class IuvSink(Sink):
    """Per frame, the DensePose dumps detectron2's and DensePose's tools write, as lossless
    PNGs in a folder: ``<stem>_IUV.png`` (blue = part index I 0..24, green = U * 255, red =
    V * 255; ``cv2.imread`` gives back ``DensePoseFrame.iuv``) and ``<stem>_INDS.png`` (8-bit:
    0 background, k = the frame's k-th person in the JSON export's order)."""

    REFUSED_SUFFIXES = (".png", ".npz", ".mp4", ".json")  # a folder named like a file: a slip

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if self.folder.suffix.lower() in self.REFUSED_SUFFIXES:
            raise SinkError(f"--export-iuv needs a folder, got {self.folder}")
        _parent_ready(self.folder / "x")

    def write(self, result: FrameResult, stem: str | None = None) -> tuple[Path, Path]:
        if result.densepose is None:
            raise ValueError("no DensePose output: set RenderConfig(densepose=True)")
        stem = stem or f"frame{result.index:06d}"
        paths = (self.folder / f"{stem}_IUV.png", self.folder / f"{stem}_INDS.png")
        for path, image in zip(
            paths, (result.densepose.iuv, result.densepose.person_index), strict=True
        ):
            ok, data = cv2.imencode(".png", image)
            if not ok:
                raise SinkError(f"cannot encode {path}")
            _write_whole(path, data.tobytes())
        return paths


class NpzSink(Sink):
    """All people of all frames as flat arrays in one .npz, written at ``close``.

    Rows are person-frames: frame_index, track_id, box, score, keypoints, vertices,
    visibility, vertices_high (float32, image px) and, with camera-space meshes on,
    vertices_camera, vertices_high_camera (float32, camera metres).
    """

    FIELDS = ("box", "score", "keypoints", "vertices", "visibility", "vertices_high")
    OPTIONAL = ("vertices_camera", "vertices_high_camera")

    def __init__(self, path: str | Path) -> None:
        self.path = _parent_ready(Path(path))
        self._rows: dict[str, list[Any]] = {
            k: [] for k in ("frame_index", "track_id", *self.FIELDS)
        }
        self._closed = False

    def write(self, result: FrameResult) -> None:
        for p in result.people:
            self._rows["frame_index"].append(result.index)
            self._rows["track_id"].append(p.track_id)
            for k in self.FIELDS:
                self._rows[k].append(getattr(p, k))
            for k in self.OPTIONAL:
                if getattr(p, k) is not None:
                    self._rows.setdefault(k, []).append(getattr(p, k))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        arrays = {k: np.asarray(v) for k, v in self._rows.items()}
        partial = partial_path(self.path)
        try:
            with partial.open("wb") as f:  # a file object: numpy adds no second suffix
                np.savez_compressed(f, **arrays)
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        finish(partial, self.path)
