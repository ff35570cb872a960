"""Recording: the annotated view to an H.264 mp4 and the session's people to JSON.

Both through the pipeline's sinks (``VideoSink``, ``JsonSink``), so the files are the CLI's
(``--out`` and ``--export-json``): same codec, same schema. Sinks open at the first frame, when
its size is known, and ``close`` always leaves complete files. Used by the worker thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from meshpose_core.pipeline import FrameResult, JsonSink, VideoSink
from meshpose_core.pipeline.sinks import export_meta


class Recorder:
    """Writes every processed frame to ``video`` (mp4) and / or ``json`` until ``close``."""

    def __init__(
        self, video: Path | None, json: Path | None, model: str, source: str, fps: float
    ) -> None:
        self.video_path, self.json_path = video, json
        self._model, self._source, self._fps = model, source, fps
        self._video: VideoSink | None = None
        self._json: JsonSink | None = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, result: FrameResult, annotated: np.ndarray) -> None:
        """One frame (``SinkError`` when a file cannot be written)."""
        height, width = annotated.shape[:2]
        if self._size is None:
            self._size = (width, height)
            if self.video_path is not None:
                self._video = VideoSink(self.video_path, width, height, self._fps)
            if self.json_path is not None:
                meta = export_meta(self._model, self._source, width, height, self._fps)
                self._json = JsonSink(self.json_path, meta)
        if self._video is not None and (width, height) == self._size:
            self._video.write(annotated)
        if self._json is not None:
            self._json.write(result)
        self.frames += 1

    def close(self) -> list[Path]:
        """Finish the files; returns those written."""
        written = []
        for sink, path in ((self._video, self.video_path), (self._json, self.json_path)):
            if sink is not None and path is not None:
                sink.close()
                written.append(path)
        self._video = self._json = None
        return written
