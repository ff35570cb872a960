"""Frames of one input with a player's controls: next frame, seek, loop.

The pipeline's sources only iterate forward (that is all the CLI needs); a player also seeks.
Seeking forward decodes and drops frames, seeking backward reopens the file first, so it
costs up to one pass over the file: instant on short clips, slow on long ones (a keyframe
seek in ``meshpose_core.pipeline.sources.VideoSource`` would fix that; see docs/gui.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from meshpose_core.pipeline import Frame, Source, open_source
from meshpose_core.pipeline.sources import IMAGE_SUFFIXES

STILL_IMAGE_FPS = 1.0  # pace of a folder / list of images when playing


@dataclass(frozen=True)
class SourceSpec:
    """Which input to open: a camera index or a file (video or image) path."""

    camera: int | None = None
    path: str | None = None

    @property
    def is_camera(self) -> bool:
        return self.camera is not None

    @property
    def is_images(self) -> bool:
        if self.path is None:
            return False
        path = Path(self.path)
        return path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES

    @property
    def label(self) -> str:
        return f"Camera {self.camera}" if self.is_camera else Path(self.path or "").name

    def open(self) -> Source:
        """The pipeline source for this input (``SourceError`` with a one-line message)."""
        if self.is_camera:
            return open_source(webcam=self.camera)
        if self.is_images:
            return open_source(images=self.path)
        return open_source(video=self.path)


class Player:
    """One opened input; ``read`` gives the next frame, ``seek`` any frame of a file."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self._source = spec.open()
        self._frames: Iterator[Frame] = iter(self._source)
        self.next_index = 0  # index of the frame ``read`` returns next
        self.loop = False
        self.restarted = False  # the last read wrapped around to the first frame

    @property
    def description(self) -> str:
        return self._source.description

    @property
    def fps(self) -> float:
        """Playback rate: the file's or camera's, one image a second for stills."""
        return self._source.fps or STILL_IMAGE_FPS

    @property
    def source_fps(self) -> float:
        return float(self._source.fps)

    @property
    def frame_count(self) -> int | None:
        return self._source.frame_count

    @property
    def live(self) -> bool:
        """A camera: its frames come at its own pace and go stale (``Source.live``)."""
        return self._source.live

    @property
    def seekable(self) -> bool:
        return not self.spec.is_camera and bool(self.frame_count)

    def read(self) -> Frame | None:
        """The next frame; at the end of a file None, or with ``loop`` the first frame."""
        frame = next(self._frames, None)
        self.restarted = False
        if frame is None and self.loop and self.seekable:
            self._reopen()
            frame = next(self._frames, None)
            self.restarted = True
        if frame is not None:
            self.next_index = frame.index + 1
        return frame

    def __iter__(self) -> Iterator[Frame]:
        """The frames ``read`` gives, to the end of the input: a ``Pipeline.stream`` source
        whose ``fps`` and ``live`` set the pace its "auto" mode keeps up with. Closing the
        iterator leaves the input open (the next ``read`` goes on from there)."""
        while (frame := self.read()) is not None:
            yield frame

    def seek(self, index: int) -> Frame | None:
        """The frame at ``index`` (clamped to the file); the next ``read`` follows it."""
        if not self.seekable:
            return None
        index = min(max(index, 0), (self.frame_count or 1) - 1)
        if index < self.next_index:
            self._reopen()
        frame = None
        while self.next_index <= index:
            frame = next(self._frames, None)
            if frame is None:
                break
            self.next_index = frame.index + 1
        return frame

    def _reopen(self) -> None:
        self._source.close()
        self._source = self.spec.open()
        self._frames = iter(self._source)
        self.next_index = 0

    def close(self) -> None:
        self._source.close()
