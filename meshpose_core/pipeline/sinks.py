"""Outputs: annotated video / images, JSON, OBJ meshes, NPZ arrays and DensePose IUV images.

Every sink is a context manager whose ``close`` is idempotent and leaves a complete file, so
the caller closes them in ``finally`` and an interrupted run (Ctrl-C, SIGTERM) keeps a
playable video and a valid JSON of every frame processed so far; writing each frame inside
``interrupts_deferred()`` keeps a signal from cutting a write in half. The JSON is written
frame by frame and only its closing brackets wait for ``close``. JSON schema:
``export_schema.json`` beside this file (documented in docs/pipeline.md).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np

from meshpose_core.closeable import Closeable
from meshpose_core.topology import Topology

from .results import FrameResult, PersonResult

SCHEMA_PATH = Path(__file__).with_name("export_schema.json")


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
    by one pixel (H.264 4:2:0 needs even sizes)."""

    def __init__(
        self, path: str | Path, width: int, height: int, fps: float, preset: str = "superfast"
    ) -> None:
        import av

        self.path = _parent_ready(Path(path))
        if self.path.suffix.lower() != ".mp4":
            raise SinkError(f"video output must be an .mp4 file, got {self.path}")
        try:
            self._container = av.open(str(self.path), mode="w")
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
        import av

        frame = av.VideoFrame.from_ndarray(even_padded(rgb), format="rgb24")
        frame.pts = self._count
        self._container.mux(self._stream.encode(frame))
        self._count += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._container.mux(self._stream.encode(None))  # flush delayed frames
        finally:
            self._container.close()  # writes the moov atom: the file is now playable


class ImageSink(Sink):
    """Annotated images in a folder, under the input's file name."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if self.folder.suffix.lower() in (".mp4", ".png", ".jpg", ".jpeg"):
            raise SinkError(f"--out for images must be a folder, got {self.folder}")
        _parent_ready(self.folder / "x")

    def write(self, rgb: np.ndarray, name: str) -> Path:
        path = self.folder / name
        ok, data = cv2.imencode(path.suffix or ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if not ok:
            raise SinkError(f"cannot encode {path}")
        data.tofile(path)
        return path


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


class JsonSink(Sink):
    """``{"meta": ..., "frames": [...]}`` written incrementally; ``close`` adds the ending."""

    def __init__(self, path: str | Path, meta: dict[str, Any]) -> None:
        self.path = _parent_ready(Path(path))
        try:
            self._file: TextIO | None = self.path.open("w", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self._file.write('{"meta": ' + json.dumps(meta) + ',\n"frames": [')
        self._first = True

    def write(self, result: FrameResult, file_name: str | None = None) -> None:
        assert self._file is not None, "JsonSink is closed"
        frame: dict[str, Any] = {"index": int(result.index)}
        if file_name is not None:
            frame["file"] = file_name
        frame["people"] = [person_json(p) for p in result.people]
        self._file.write(
            ("\n" if self._first else ",\n") + json.dumps(frame, separators=(",", ":"))
        )
        self._first = False
        self._file.flush()

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self._file.write("\n]}\n")
        finally:
            self._file.close()
            self._file = None


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
            path.write_text(buf.getvalue() + self._tail)
            paths.append(path)
        return paths


class IuvSink(Sink):
    """Per frame, the DensePose dumps detectron2's and DensePose's tools write, as lossless
    PNGs in a folder: ``<stem>_IUV.png`` (blue = part index I 0..24, green = U * 255, red =
    V * 255; ``cv2.imread`` gives back ``DensePoseFrame.iuv``) and ``<stem>_INDS.png`` (8-bit:
    0 background, k = the frame's k-th person in the JSON export's order)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if self.folder.suffix.lower() in (".png", ".npz", ".mp4", ".json"):
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
            try:
                data.tofile(path)
            except OSError as exc:
                raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from exc
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
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, self.path)
