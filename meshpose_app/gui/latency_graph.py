"""A live stacked graph of per-stage latency over the last frames (QPainter, no chart library).

Stacking shows both where the time goes and the frame's total; the dashed line marks 33 ms,
the budget of a 30 FPS input, so "is it real time?" reads at a glance.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

import numpy as np
from PyQt6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from .theme import STAGE_COLORS

HISTORY = 100  # frames shown
BUDGET_MS = 1000.0 / 30.0
SCALES_MS = (10.0, 20.0, 40.0, 60.0, 100.0, 200.0, 400.0, 1000.0, 4000.0)


class LatencyGraph(QWidget):
    """Stacked areas, one per stage (bottom to top in ``stages`` order)."""

    def __init__(self, stages: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stages = tuple(stages)
        self._frames: deque[tuple[float, ...]] = deque(maxlen=HISTORY)
        colors = [STAGE_COLORS[s] for s in self.stages]
        self._palette = np.array(
            [(c.red(), c.green(), c.blue(), 215) for c in colors] + [(0, 0, 0, 0)], np.uint8
        )
        self._pixels = np.zeros((0, 0, 4), np.uint8)  # kept alive while Qt draws it
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(110)

    def add(self, latency_ms: Mapping[str, float]) -> None:
        """Record a frame; the owner calls ``update()`` to repaint (a few times a second:
        painting costs more than a frame's worth of GUI time)."""
        self._frames.append(tuple(float(latency_ms.get(s, 0.0)) for s in self.stages))

    def clear(self) -> None:
        self._frames.clear()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(260, 110)

    def scale_ms(self) -> float:
        """The y range: the smallest round value above nearly all totals shown (a lone
        spike, such as a seek, is clipped rather than flattening everything else)."""
        totals = [sum(f) for f in self._frames]
        peak = float(np.percentile(totals, 95)) if totals else 0.0
        return next((s for s in SCALES_MS if s >= peak), SCALES_MS[-1])

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802
        painter = QPainter(self)
        plot = QRect(self.rect()).adjusted(34, 6, -4, -6)
        painter.fillRect(plot, QColor(22, 24, 27))
        top = self.scale_ms()
        self._grid(painter, QRectF(plot), top)
        if self._frames and plot.width() > 0 and plot.height() > 0:
            # drawn as an image, one pixel column at a time: a few numpy operations instead
            # of hundreds of painter calls (the graph must not cost the video frames)
            self._pixels = self.pixels(plot.width(), plot.height(), top)
            image = QImage(
                self._pixels.data, plot.width(), plot.height(), plot.width() * 4,
                QImage.Format.Format_RGBA8888,
            )  # fmt: skip
            painter.drawImage(plot.topLeft(), image)
        self._budget_line(painter, QRectF(plot), top)
        painter.end()

    def pixels(self, width: int, height: int, top_ms: float) -> np.ndarray:
        """(height, width, 4) RGBA: the last ``HISTORY`` frames left to right (newest at the
        right edge), each frame's stages stacked from the bottom."""
        data = np.asarray(self._frames, np.float32)  # (frames, stages)
        frame = np.arange(width) * HISTORY // width - (HISTORY - len(data))  # per column
        tops = np.cumsum(data, axis=1)[np.clip(frame, 0, None)] * (height / top_ms)
        tops[frame < 0] = 0.0  # columns before the first frame: empty
        rows = np.arange(height, 0, -1, dtype=np.float32) - 0.5  # pixel centres, from the top
        stage = (tops[None, :, :] <= rows[:, None, None]).sum(axis=2)  # len(stages): none
        return np.ascontiguousarray(self._palette[stage])

    def _grid(self, painter: QPainter, plot: QRectF, top: float) -> None:
        font = painter.font()
        font.setPointSizeF(7.5)
        painter.setFont(font)
        for frac in (0.0, 0.5, 1.0):
            y = plot.bottom() - plot.height() * frac
            painter.setPen(QColor(55, 58, 64))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(QColor(150, 156, 166))
            label = QRectF(0, y - 7, plot.left() - 4, 14)
            align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            painter.drawText(label, align, f"{top * frac:g}")

    def _budget_line(self, painter: QPainter, plot: QRectF, top: float) -> None:
        if top > BUDGET_MS:
            y = plot.bottom() - plot.height() * BUDGET_MS / top
            painter.setPen(QPen(QColor(230, 90, 90), 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
