"""Reading labelled images and video frames from the shared media folder.

Video frames are addressed by their index in sequential decoding. Seeking in H.264 is slow
(decode from the previous key frame) and not guaranteed frame-exact, so the frames a label file
needs are decoded once, sequentially, and kept as JPEG (quality 95) in a cache folder outside
the repo; labelling and training read the very same frames.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

DEFAULT_FRAME_CACHE = Path.home() / ".cache" / "meshpose_live" / "frames"
JPEG_QUALITY = 95


def read_rgb(path: Path) -> np.ndarray:
    """An image file -> (H, W, 3) uint8 RGB (grey and RGBA converted)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def iter_video_frames(path: Path, step: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB frame (H, W, 3) uint8) of every ``step``-th frame, decoded sequentially."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    try:
        index = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            if index % step == 0:
                yield index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        cap.release()


def frame_cache_path(cache_dir: Path, video: str, index: int) -> Path:
    """Cache file of one frame: <cache>/<video path with '/' -> '__'>/<index>.jpg."""
    return cache_dir / video.replace("/", "__") / f"{index:06d}.jpg"


def write_jpeg(path: Path, rgb: np.ndarray) -> None:
    """``rgb`` (H, W, 3) uint8 to a JPEG. Atomic write (temp file + rename): parallel
    data-loader workers may race."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.jpg")
    cv2.imwrite(
        str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    os.replace(tmp, path)


def cache_frames(root: Path, video: str, indices: Iterable[int], cache_dir: Path) -> None:
    """Decode ``root/video`` once and cache the frames at ``indices`` that are not cached yet."""
    wanted = {i for i in indices if not frame_cache_path(cache_dir, video, i).is_file()}
    if not wanted:
        return
    last = max(wanted)
    for index, rgb in iter_video_frames(root / video):
        if index in wanted:
            write_jpeg(frame_cache_path(cache_dir, video, index), rgb)
        if index >= last:
            break


class MediaReader:
    """``reader(path, frame) -> RGB``: stills from ``root``, video frames from the cache
    (filled on a miss with all the frames of that video listed in ``video_frames``)."""

    def __init__(
        self,
        root: Path,
        cache_dir: Path = DEFAULT_FRAME_CACHE,
        video_frames: dict[str, set[int]] | None = None,
        memory_budget: int = 1 << 30,
    ) -> None:
        self.root = root
        self.cache_dir = cache_dir
        self.video_frames = video_frames or {}
        # decoded stills kept in memory (least recently used first out): a few shared photos
        # are 24-megapixel JPEGs that take ~0.5 s to decode, sampled again and again
        self.memory_budget = memory_budget
        self._decoded: OrderedDict[str, np.ndarray] = OrderedDict()

    def _still(self, path: str) -> np.ndarray:
        if path in self._decoded:
            self._decoded.move_to_end(path)
            return self._decoded[path]
        img = read_rgb(self.root / path)
        self._decoded[path] = img
        while sum(a.nbytes for a in self._decoded.values()) > self.memory_budget:
            self._decoded.popitem(last=False)
        return img

    def __call__(self, path: str, frame: int = -1) -> np.ndarray:
        if frame < 0:
            return self._still(path)
        cached = frame_cache_path(self.cache_dir, path, frame)
        if not cached.is_file():
            cache_frames(
                self.root, path, self.video_frames.get(path, set()) | {frame}, self.cache_dir
            )
        return read_rgb(cached)
