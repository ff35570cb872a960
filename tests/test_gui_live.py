"""The desktop app (PyQt6, offscreen) on a camera and on a 1280x720 input: a camera runs in the
mode ``Pipeline.stream(overlap="auto")`` picks for its rate, as the CLI's ``--webcam`` does
(sequential while it keeps up, else overlapped on background threads); a 1280x720 frame is
drawn at its own resolution and shown on a smaller view by area averaging, not by Qt's
bilinear scaling, which skips pixels beyond 2x.

The camera is a stand-in ``Source`` (live, any nominal rate, frames of the sample clip); the
network is the tiny random-init one with the rest template in each crop (``test_gui``).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import draw_every_mesh
from PyQt6.QtCore import QSettings
from PyQt6.QtGui import QImage
from test_gui import WAIT_MS, model_settings, next_packet, pause, template_meshes  # noqa: F401

from meshpose_app.cli import SAMPLE_CLIP
from meshpose_app.gui.main_window import MainWindow
from meshpose_app.gui.player import SourceSpec
from meshpose_app.gui.settings import LayerSettings
from meshpose_core.bench.layers_bench import cover
from meshpose_core.pipeline import Frame, Source, VideoSink, VideoSource
from meshpose_core.pipeline.pacing import PROBE_LENGTH


@pytest.fixture(scope="module")
def clip_images() -> list[np.ndarray]:
    with VideoSource(SAMPLE_CLIP) as source:
        return [f.image for f in itertools.islice(source, 24)]


class StandInCamera(Source):
    """A live source that says it runs at ``fps`` and hands out the clip's frames (5 ms
    apart): the mode choice depends only on that rate and the measured work."""

    live = True

    def __init__(self, images: list[np.ndarray], fps: float) -> None:
        self.images, self.fps = images, fps
        self.description = f"stand-in camera at {fps:g} FPS"

    def __iter__(self) -> Iterator[Frame]:
        for k in itertools.count():
            time.sleep(0.005)
            yield Frame(self.images[k % len(self.images)], k / self.fps, k)


def make_window(tmp: Path, model: Path, spec: SourceSpec) -> MainWindow:
    store = QSettings(str(tmp / "gui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(store, model_settings(model), LayerSettings())
    window.output_dir = tmp / "out"
    window.show()
    window.open_source(spec)
    return window


def infer_thread_running() -> bool:
    return any(t.name == "infer" for t in threading.enumerate())


@pytest.mark.parametrize(("fps", "expected"), [(1.0, "sequential"), (1e4, "overlap")])
def test_camera_runs_in_the_mode_picked_for_its_rate(
    qtbot, tiny_model, tmp_path, monkeypatch, clip_images, fps: float, expected: str
) -> None:
    """A camera far slower than the work: sequential (the lowest latency); one far faster:
    overlapped, inference on its own thread. Pausing stops the stream's threads; playing
    again probes anew."""
    monkeypatch.setenv("MESHPOSE_CACHE", str(tmp_path / "cache"))
    draw_every_mesh(monkeypatch)
    real_open = SourceSpec.open
    monkeypatch.setattr(
        SourceSpec,
        "open",
        lambda spec: StandInCamera(clip_images, fps) if spec.is_camera else real_open(spec),
    )
    window = make_window(tmp_path, tiny_model, SourceSpec(camera=0))
    messages: list[str] = []
    window.worker.message.connect(messages.append)
    try:
        first = next_packet(qtbot, window)
        assert window.worker.stream_mode == "sequential"  # the probe
        next_packet(qtbot, window, first.seq + PROBE_LENGTH + 3)  # frames after the choice
        assert window.worker.stream_mode == expected
        assert infer_thread_running() == (expected == "overlap")
        qtbot.waitUntil(lambda: f"{expected} processing" in " ".join(messages), timeout=WAIT_MS)
        assert f"Camera 0 at {fps:g} FPS: {expected} processing" in messages

        shown = pause(qtbot, window)
        assert not infer_thread_running() and window.worker.stream_mode == "sequential"
        window.worker.set_playing(True)
        later = next_packet(qtbot, window, shown.seq + 2)
        assert later.result.index > shown.result.index  # the camera goes on
    finally:
        window.close()
    assert not window.worker.isRunning() and not infer_thread_running()


def view_pixels(window: MainWindow) -> np.ndarray:
    """The frame as the view paints it: (h, w, 3) RGB of the view's image area."""
    view = window.view
    view.set_hud((), False)  # the HUD box is Qt's, drawn over the frame
    grabbed = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(grabbed.constBits().asstring(grabbed.sizeInBytes()), np.uint8)
    rows = rows.reshape(grabbed.height(), grabbed.bytesPerLine())[:, : grabbed.width() * 3]
    rect = view.image_rect()
    image = rows.reshape(grabbed.height(), grabbed.width(), 3)
    return image[rect.y() : rect.y() + rect.height(), rect.x() : rect.x() + rect.width()]


def test_720p_input_is_drawn_at_full_resolution_and_shrunk_smoothly(
    qtbot, tiny_model, tmp_path, monkeypatch, clip_images
) -> None:
    """A 1280x720 clip on a view less than half as wide: the layers are drawn on the full
    1280x720 frame (edges per pixel, not 2x2 blocks), and the view shows that frame
    averaged over the screen pixels it covers, far closer to the area average than Qt's
    bilinear scaling (the previous display path) is."""
    monkeypatch.setenv("MESHPOSE_CACHE", str(tmp_path / "cache"))
    draw_every_mesh(monkeypatch)
    clip = tmp_path / "clip720.mp4"
    with VideoSink(clip, 1280, 720, 30.0) as sink:
        for image in clip_images[:12]:
            sink.write(cover(image, 1280, 720))
    with VideoSource(clip) as source:
        plain = [f.image for f in source]
    window = make_window(tmp_path, tiny_model, SourceSpec(path=str(clip)))
    try:
        window.resize(900, 560)
        packet = pause(qtbot, window)
        assert packet.image.shape == (720, 1280, 3)
        painted = (packet.image != plain[packet.result.index]).any(-1)
        assert painted.sum() > 5000  # the layers of the person
        blocks = painted.reshape(360, 2, 640, 2).sum(axis=(1, 3))
        edge = (blocks > 0) & (blocks < 4)
        assert ((blocks == 1) | (blocks == 3)).sum() > 0.2 * edge.sum() > 20  # per pixel

        qtbot.waitUntil(lambda: 0 < window.view.image_rect().width() < 640, timeout=WAIT_MS)
        shown = view_pixels(window).astype(np.int16)
        h, w = shown.shape[:2]
        area = cv2.resize(packet.image, (w, h), interpolation=cv2.INTER_AREA).astype(np.int16)
        bilinear = cv2.resize(packet.image, (w, h), interpolation=cv2.INTER_LINEAR)
        bilinear = bilinear.astype(np.int16)
        assert np.abs(shown - area).mean() < 2.5
        # where the way of shrinking shows (fine detail, the layers' edges), the view is
        # closer to the area average than to bilinear scaling, which drops pixels there
        detail = np.abs(area - bilinear).max(-1) > 12
        assert detail.sum() > 200
        area_error = np.abs(shown - area)[detail].mean()
        assert area_error < np.abs(shown - bilinear)[detail].mean()  # Qt alone fails this
    finally:
        window.close()
    assert not window.worker.isRunning()
