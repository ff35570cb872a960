"""The app's look: a dark Fusion palette (video reads best on dark grey) and stage colours.

Applied to the ``QApplication`` by ``apply_theme``, so the widgets themselves carry no colours
except the per-stage ones shared by the latency table and graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication

ACCENT = QColor(66, 135, 245)
RECORD = QColor(230, 60, 60)
STAGE_COLORS: Mapping[str, QColor] = MappingProxyType(
    {
        "capture": QColor(140, 146, 156),
        "detect": QColor(245, 130, 48),
        "track": QColor(255, 205, 60),
        "network": QColor(66, 135, 245),
        "upsample": QColor(170, 110, 230),
        "render": QColor(60, 180, 110),
    }
)

_STYLE = """
QMainWindow::separator { width: 4px; height: 4px; background: #202226; }
QDockWidget { font-weight: 600; }
QDockWidget::title { padding: 6px 8px; background: #24262b; }
QGroupBox { border: 1px solid #34373d; border-radius: 6px; margin-top: 14px; padding: 8px 6px 6px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; color: #aeb4bf; }
QStatusBar { background: #1b1c20; color: #c9ced6; }
QPushButton, QToolButton {
    background: #2c2f35; border: 1px solid #3b3e45; border-radius: 4px; padding: 5px 12px;
}
QPushButton:hover, QToolButton:hover { background: #363a41; border-color: #4a4e56; }
QPushButton:pressed, QToolButton:pressed { background: #24262b; }
QToolButton[autoRaise="true"] { background: transparent; border: none; padding: 4px; }
QToolButton[autoRaise="true"]:hover { background: #363a41; }
QSlider::groove:horizontal { height: 4px; background: #3a3d44; border-radius: 2px; }
QSlider::sub-page:horizontal { background: #4287f5; border-radius: 2px; }
QSlider::handle:horizontal { width: 12px; margin: -5px 0; border-radius: 6px; background: #dfe3ea; }
QSlider::handle:horizontal:disabled { background: #555a62; }
QSlider::sub-page:horizontal:disabled { background: #3a3d44; }
"""


def dark_palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: QColor(32, 34, 38),
        QPalette.ColorRole.WindowText: QColor(222, 226, 232),
        QPalette.ColorRole.Base: QColor(24, 26, 29),
        QPalette.ColorRole.AlternateBase: QColor(38, 40, 45),
        QPalette.ColorRole.ToolTipBase: QColor(44, 47, 53),
        QPalette.ColorRole.ToolTipText: QColor(230, 233, 238),
        QPalette.ColorRole.Text: QColor(222, 226, 232),
        QPalette.ColorRole.Button: QColor(44, 47, 53),
        QPalette.ColorRole.ButtonText: QColor(222, 226, 232),
        QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.PlaceholderText: QColor(130, 136, 146),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(110, 115, 124))
    return p


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(_STYLE)
