"""Media reading (``data.real.media``): video frames decoded once, in order, and cached."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from meshpose_core.data.real.media import MediaReader


def test_video_frames_are_cached_in_decoding_order(tmp_path: Path) -> None:
    writer = cv2.VideoWriter(str(tmp_path / "v.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 32))
    for i in range(6):
        writer.write(np.full((32, 32, 3), 40 * i, np.uint8))
    writer.release()
    read = MediaReader(tmp_path, tmp_path / "cache", {"v.mp4": {1, 4}})
    assert abs(int(read("v.mp4", 4).mean()) - 160) <= 3
    assert len(list((tmp_path / "cache").rglob("*.jpg"))) == 2  # both wanted frames, at once
    assert abs(int(read("v.mp4", 1).mean()) - 40) <= 3
