"""Screenshot of the desktop app on the sample clip, and its display vs pipeline frame rates.

    python tools/screenshot_gui.py [--model xs_bp|PATH] [--frame 52] [--out PNG]
    python tools/screenshot_gui.py --measure [--seconds 20] [--model PATH]

Runs offscreen (``QT_QPA_PLATFORM=offscreen``, no display needed) with settings of its own
(the user's remembered settings are neither read nor changed). The screenshot is
``QWidget.grab()`` of the whole window on ``--frame``, playing, with the side view open.

``--measure`` plays the clip in a loop, first paced at its 30 FPS (the app's default) then as
fast as the pipeline goes, and prints the frames the worker processed and the window painted
per second and the GUI thread's CPU time per frame; then the same pipeline headless (no Qt at
all) on the same clip, unpaced, for reference.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PyQt6.QtCore import QEventLoop, QSettings, Qt, QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from meshpose_app.gui.main_window import MainWindow  # noqa: E402
from meshpose_app.gui.player import SourceSpec  # noqa: E402
from meshpose_app.gui.settings import LayerSettings, ModelSettings  # noqa: E402
from meshpose_app.gui.theme import apply_theme  # noqa: E402
from meshpose_app.options import SAMPLE_CLIP  # noqa: E402
from meshpose_core.pipeline import Pipeline, VideoSource  # noqa: E402

WINDOW_SIZE = (1400, 700)
SIDE_VIEW_HEIGHT = 290
TIMEOUT_S = 120.0


def wait_until(condition: object, timeout_s: float = TIMEOUT_S) -> None:
    """Run the Qt event loop until ``condition()`` holds (RuntimeError after the timeout)."""
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for the app")
        loop = QEventLoop()
        QTimer.singleShot(10, loop.quit)
        loop.exec()


def wait_for(seconds: float) -> None:
    """Let the app run for ``seconds`` in its own event loop (nothing else in this thread)."""
    loop = QEventLoop()
    QTimer.singleShot(round(seconds * 1000), loop.quit)
    loop.exec()


def open_app(model: ModelSettings, layers: LayerSettings) -> MainWindow:
    store_file = Path(tempfile.mkdtemp(prefix="meshpose-gui-")) / "settings.ini"
    window = MainWindow(QSettings(str(store_file), QSettings.Format.IniFormat), model, layers)
    window.resize(*WINDOW_SIZE)
    window.show()
    window.open_source(SourceSpec(path=str(SAMPLE_CLIP)))
    wait_until(lambda: window.packet is not None and window.pipeline_info.settings)
    return window


def screenshot(window: MainWindow, frame: int, out: Path) -> None:
    """Grab the window while it plays, on ``frame`` of the second pass over the clip (rates
    and the latency graph are then live)."""
    window.side_dock.show()
    window.resizeDocks([window.side_dock], [SIDE_VIEW_HEIGHT], Qt.Orientation.Vertical)
    wait_until(lambda: window.packet is not None and window.packet.result.index > frame)
    wait_until(
        lambda: (
            window.packet is not None
            and window.packet.result.index == frame
            and window.packet.side_view is not None
        )
    )
    window.worker.set_playing(False)  # the frame shown stays, the HUD keeps its numbers
    wait_until(lambda: not window.playback.playing)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        raise RuntimeError(f"cannot write {out}")
    print(f"wrote {out}")


def measure(window: MainWindow, seconds: float, paced: bool) -> str:
    """Frames processed and painted per second in the window over ``seconds``, and the GUI
    thread's CPU time per frame; ``paced``: at the clip's rate (the app's default), else as
    fast as the pipeline goes."""
    window.worker.set_realtime(paced)
    wait_for(3.0)  # warm up, and let the new pace settle
    seq0, painted0, dropped0 = window.worker.latest_seq, window.view.painted, window.dropped
    t0, cpu0 = time.perf_counter(), time.thread_time()  # this thread runs the GUI
    wait_for(seconds)
    elapsed, cpu = time.perf_counter() - t0, time.thread_time() - cpu0
    processed = window.worker.latest_seq - seq0
    painted = window.view.painted - painted0
    return (
        f"GUI, {'paced at the clip rate' if paced else 'unpaced'}: pipeline "
        f"{processed / elapsed:.1f} FPS, display {painted / elapsed:.1f} FPS "
        f"({window.dropped - dropped0} dropped), GUI thread "
        f"{cpu / max(painted, 1) * 1e3:.2f} ms CPU per displayed frame"
    )


def measure_headless(model: ModelSettings, layers: LayerSettings, seconds: float) -> float:
    """Frames per second of the same pipeline without any GUI (as ``run_demo.py --headless``
    without outputs), over whole passes of the clip for about ``seconds``."""
    config = model.pipeline_config(layers)  # the video layer included
    frames, start = 0, 0.0
    with Pipeline(config) as pipeline:
        warm = True
        while warm or time.perf_counter() - start < seconds:
            with VideoSource(SAMPLE_CLIP) as source:
                for _ in pipeline.run(source):
                    frames += 0 if warm else 1
            if warm:
                warm, start = False, time.perf_counter()
                pipeline.reset()
    return frames / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="xs_bp", help="preset name or weights file")
    ap.add_argument("--backend", default="auto", choices=("auto", "torch", "onnx"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frame", type=int, default=52, help="frame shown in the screenshot")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "gui_sample.png")
    ap.add_argument("--measure", action="store_true", help="measure instead of a screenshot")
    ap.add_argument("--seconds", type=float, default=20.0, help="measuring time per run")
    args = ap.parse_args(argv)

    model = replace(
        ModelSettings.defaults(), model=args.model, backend=args.backend, threads=args.threads
    )
    layers = LayerSettings()
    app = QApplication([sys.argv[0]])
    apply_theme(app)
    window = open_app(model, layers)
    try:
        if not args.measure:
            screenshot(window, args.frame, args.out)
            return 0
        window.worker.set_loop(True)
        lines = [measure(window, args.seconds, paced) for paced in (True, False)]
    finally:
        window.close()
    headless = measure_headless(model, layers, args.seconds)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"model {window.pipeline_info.model}; {os.cpu_count()} CPUs, load average {load}")
    print("\n".join(lines))
    print(f"headless, unpaced (no Qt): pipeline {headless:.1f} FPS")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
