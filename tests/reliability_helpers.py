"""Small generated inputs and CLI helpers of the reliability tests (test_reliability_*.py)."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import av
import numpy as np
import pytest
from test_pipeline_e2e import error_lines as error_lines  # re-exported: one CLI runner
from test_pipeline_e2e import run_cli as run_cli

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "assets" / "samples" / "gym_run.mp4"
SKIER = REPO / "assets" / "test_images" / "coco_000000000785_skier.jpg"


def write_clip(
    path: Path, frames: int = 6, width: int = 96, height: int = 64, noise: bool = False
) -> Path:
    """An H.264 clip whose left half is white, the rest black (orientation visible) or, with
    ``noise``, new noise every frame (every frame as large: a cut copy keeps its first
    frames); with ``+faststart`` so that a cut copy still opens."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = 255
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            if noise:
                image[:, width // 2 :] = rng.integers(0, 256, image[:, width // 2 :].shape)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    return path


def set_display_rotation(path: Path, clockwise: int) -> None:
    """Write a display matrix that turns the picture ``clockwise`` degrees (90 or 270) into
    the MP4's track header, as phones record a clip held upright."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    version = data[at + 4]
    # after version/flags: times, track id, reserved, duration, reserved, layer, group, volume
    offset = at + 8 + (32 if version == 1 else 20) + 8 + 8
    one = 1 << 16
    s = {90: 1, 270: -1}[clockwise]
    matrix = (0, s * one, 0, -s * one, 0, 0, 0, 0, 1 << 30)
    data[offset : offset + 36] = struct.pack(">9i", *matrix)
    path.write_bytes(bytes(data))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def strict_json(text: str) -> object:
    """json.loads that refuses NaN / Infinity, as strict parsers (browsers, jq) do."""
    import json

    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module", autouse=True)
def private_onnx_cache(tmp_path_factory: pytest.TempPathFactory):
    """A private ONNX export cache for a test module's runs (import it to use it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MESHPOSE_CACHE", str(tmp_path_factory.mktemp("onnx-cache")))
        yield
