"""CLI conveniences: --version, a progress bar only on a terminal, stream URLs as input and
webcam size / rate / mirror options (with a stand-in camera)."""

from __future__ import annotations

import functools
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import av
import cv2
import numpy as np
import pytest

from meshpose_app.cli import SAMPLE_CLIP, main
from meshpose_core import __version__
from meshpose_core.pipeline import CameraOptions, SourceError, VideoSource, WebcamSource
from meshpose_core.pipeline.progress import progress_bar
from meshpose_core.pipeline.sources import is_url, parse_size


def test_version(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"meshpose-demo {__version__}"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_shows_eta_on_a_terminal_only() -> None:
    term, pipe = _Terminal(), io.StringIO()
    for stream in (term, pipe):
        with progress_bar(4, stream) as bar:
            for _ in range(4):
                bar.update(1)
    assert "4/4" in term.getvalue() and "<" in term.getvalue()  # elapsed<remaining
    assert pipe.getvalue() == ""
    with progress_bar(None, _Terminal()) as bar:  # a webcam or a stream: no total, no bar
        assert bar.disable


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_clip(tmp_path_factory) -> Iterator[str]:
    """The sample clip remuxed to MPEG-TS (what live HTTP streams carry: no seeking needed)
    and served over HTTP on localhost."""
    folder = tmp_path_factory.mktemp("served")
    with av.open(str(SAMPLE_CLIP)) as src, av.open(str(folder / "clip.ts"), "w") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/clip.ts"
    server.shutdown()


def test_stream_url_is_read_like_a_file(http_clip: str) -> None:
    assert is_url(http_clip) and is_url("rtsp://cam/live") and not is_url(str(SAMPLE_CLIP))
    with VideoSource(http_clip) as stream, VideoSource(SAMPLE_CLIP) as file:
        a, b = list(stream), list(file)
    assert len(a) == len(b) == 120
    np.testing.assert_array_equal(a[60].image, b[60].image)


def test_cli_on_a_stream_url(tiny_model, http_clip, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MESHPOSE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "s.json"
    args = ["--video", http_clip, "--model", str(tiny_model), "--layers", ""]
    assert main([*args, "--export-json", str(out), "--headless"]) == 0
    assert out.stat().st_size
    assert "frame/s" not in capsys.readouterr().err  # no bar when stderr is not a terminal


def test_unreachable_stream_is_one_error_line(capsys) -> None:
    with pytest.raises(SourceError, match="cannot read stream"):
        VideoSource("http://127.0.0.1:9/none.mp4")
    assert main(["--video", "http://127.0.0.1:9/none.mp4", "--headless"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


class _FakeCapture:
    """cv2.VideoCapture stand-in: records what was asked, gives 3 frames of what it got."""

    asked: ClassVar[dict[int, float]] = {}

    def __init__(self, index: int) -> None:
        self.frames = 0
        self.props = {cv2.CAP_PROP_FPS: 30.0, cv2.CAP_PROP_FRAME_WIDTH: 640.0}
        self.props[cv2.CAP_PROP_FRAME_HEIGHT] = 480.0

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def set(self, prop: int, value: float) -> bool:
        _FakeCapture.asked[prop] = value
        self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        return self.props.get(prop, 0.0)

    def read(self) -> tuple[bool, np.ndarray | None]:
        self.frames += 1
        if self.frames > 3:
            return False, None
        w, h = int(self.props[cv2.CAP_PROP_FRAME_WIDTH]), int(self.props[cv2.CAP_PROP_FRAME_HEIGHT])
        bgr = np.zeros((h, w, 3), np.uint8)
        bgr[:, : w // 4, 2] = 255  # red on the left
        return True, bgr

    def release(self) -> None:
        pass


def test_webcam_size_rate_and_mirror(monkeypatch) -> None:
    monkeypatch.setattr(cv2, "VideoCapture", _FakeCapture)
    with WebcamSource(0, CameraOptions(320, 240, 60.0, mirror=True)) as cam:
        frames = list(cam)
    assert _FakeCapture.asked == {
        cv2.CAP_PROP_FRAME_WIDTH: 320.0,
        cv2.CAP_PROP_FRAME_HEIGHT: 240.0,
        cv2.CAP_PROP_FPS: 60.0,
    }
    assert cam.fps == 60.0 and cam.description == "webcam:0 320x240 mirrored"
    assert len(frames) == 3 and frames[0].image.shape == (240, 320, 3)
    assert (frames[0].image[:, -80:, 0] == 255).all()  # the red stripe is now on the right
    assert (frames[0].image[:, :80] == 0).all()
    with WebcamSource(0) as plain:
        assert (next(iter(plain)).image[:, :10, 0] == 255).all()


def test_camera_options_on_the_command_line(monkeypatch, tmp_path, tiny_model) -> None:
    monkeypatch.setattr(cv2, "VideoCapture", _FakeCapture)
    monkeypatch.setenv("MESHPOSE_CACHE", str(tmp_path / "cache"))
    _FakeCapture.asked = {}
    args = ["--webcam", "--headless", "--model", str(tiny_model), "--layers", ""]
    extra = ["--camera-size", "800x600", "--camera-fps", "24", "--mirror"]
    assert main([*args, *extra, "--export-json", str(tmp_path / "w.json")]) == 0
    assert _FakeCapture.asked[cv2.CAP_PROP_FRAME_WIDTH] == 800.0
    assert _FakeCapture.asked[cv2.CAP_PROP_FPS] == 24.0
    assert parse_size("1280x720") == (1280, 720)
    for bad in ("1280", "x720", "0x5", "axb"):
        with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
            parse_size(bad)
    assert main([*args, "--camera-size", "big"]) == 2
    assert Path(tmp_path / "w.json").stat().st_size
