"""MeshPose Live desktop app (PyQt6): a window that only displays and controls the pipeline.

Capture, the pipeline and its GL renderer live in one worker ``QThread``
(``worker.PipelineWorker``); the window (``main_window.MainWindow``) shows the newest frame it
sends and turns user actions into worker commands. Everything the app does goes through
``meshpose_core.pipeline`` (sources, ``Pipeline``, layers, sinks), so the CLI and the library
can do the same. Start it with ``python run_demo.py --webcam`` or ``--video PATH``; see
docs/gui.md.
"""

from __future__ import annotations

import importlib.util
import os
import sys


def can_show_gui() -> bool:
    """Whether a window can appear here: PyQt6 installed and a screen to show it on (not
    Qt's offscreen / minimal platforms, and on Linux a DISPLAY or WAYLAND_DISPLAY)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    if platform in ("offscreen", "minimal", "vnc"):
        return False
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    return importlib.util.find_spec("PyQt6") is not None
