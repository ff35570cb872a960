"""Widgets that paint numpy RGB frames: the main view (with its HUD) and the side view.

``set_image`` wraps the array in a ``QImage`` without copying and keeps the array alive as
long as the image (Qt does not own numpy memory). Painting scales the frame to the widget,
keeping its aspect ratio, at paint time only: a frame replaced before the next paint is never
drawn, which is how the GUI shows only the newest frame. A frame (its layers drawn at the
input's resolution) over twice the size of the view is first shrunk by an integer factor by
area averaging (``shrunk``, ~0.6 ms for 1280x720 halved), the rest left to Qt's smooth
transform: that is bilinear, which beyond 2x skips source pixels, so thin lines and mesh
edges of a 1280x720 frame broke up into steps on a small window.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from PyQt6.QtCore import QPointF, QRect, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import (
    QColor,
    QFontDatabase,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
)
from PyQt6.QtWidgets import QWidget

from .rates import RateMeter
from .theme import RECORD


def to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) uint8 C-contiguous RGB -> QImage over the same memory (keep ``rgb``)."""
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888)


def shrunk(rgb: np.ndarray, factor: int) -> np.ndarray:
    """(H, W, 3) ``rgb`` -> (H // factor, W // factor, 3): each pixel the mean of a
    ``factor`` x ``factor`` block (an integer factor: OpenCV's fast area path; the last
    rows and columns that fill no block are dropped, under ``factor`` pixels)."""
    h, w = rgb.shape[0] // factor, rgb.shape[1] // factor
    return cv2.resize(rgb[: h * factor, : w * factor], (w, h), interpolation=cv2.INTER_AREA)


def fitted(image: QSize, area: QRect) -> QRect:
    """The largest rectangle of ``image``'s aspect ratio centred in ``area``."""
    size = image.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
    return QRect(
        area.x() + (area.width() - size.width()) // 2,
        area.y() + (area.height() - size.height()) // 2,
        size.width(),
        size.height(),
    )


class ImageView(QWidget):
    """Paints the newest frame, aspect-fitted on a dark background, or a placeholder text."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._image: QImage | None = None
        self._shown: tuple[int, np.ndarray, QImage] | None = None  # the frame shrunk
        self._new = False
        self.placeholder = placeholder
        self.shown = RateMeter()  # frames actually painted: the display frame rate
        self.painted = 0  # frames painted since the view was made
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(160, 120)

    def set_image(self, rgb: np.ndarray | None) -> None:
        self._array = rgb
        self._image = None if rgb is None else to_qimage(rgb)
        self._shown = None
        self._new = rgb is not None
        self.update()

    @property
    def image_array(self) -> np.ndarray | None:
        """The frame shown (the array given to ``set_image``)."""
        return self._array

    def image_rect(self) -> QRect:
        if self._image is None:
            return QRect()
        return fitted(self._image.size(), self.rect())

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(17, 18, 21))
        if self._image is None:
            painter.setPen(QColor(150, 156, 166))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            area = self.image_rect()
            painter.drawImage(area, self._display_image(area.size()))
            if self._new:
                self._new = False
                self.shown.tick()
                self.painted += 1
        self.paint_overlay(painter)
        painter.end()

    def _display_image(self, size: QSize) -> QImage:
        """The frame to paint on a ``size`` area (logical pixels): shrunk by the integer
        factor that leaves Qt's bilinear scaling under 2x of the screen pixels it covers."""
        assert self._image is not None and self._array is not None
        pixels = max(1.0, size.width() * self.devicePixelRatioF())
        factor = int(self._image.width() / pixels)
        if factor < 2:
            return self._image
        if self._shown is None or self._shown[0] != factor:
            small = shrunk(self._array, factor)
            self._shown = (factor, small, to_qimage(small))
        return self._shown[2]

    def paint_overlay(self, painter: QPainter) -> None:
        """Hook for what is drawn over the frame."""


class VideoView(ImageView):
    """The main view: the annotated frame and a HUD (rates, people, model; REC when
    recording) drawn by Qt over it, so the HUD is never part of recordings or snapshots."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Open a camera, a video or the sample clip", parent)
        self.hud: Sequence[str] = ()
        self.recording = False
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def set_hud(self, lines: Sequence[str], recording: bool) -> None:
        self.hud, self.recording = lines, recording
        self.update()

    def paint_overlay(self, painter: QPainter) -> None:
        area = self.image_rect()
        if not self.hud or area.isEmpty():
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(max(8.0, min(11.0, area.height() / 48)))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        pad, line = 8, metrics.height()
        width = max(metrics.horizontalAdvance(s) for s in self.hud) + 2 * pad
        box = QRectF(area.x() + 10, area.y() + 10, width, line * len(self.hud) + 2 * pad - 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(box, 6, 6)
        painter.setPen(QColor(235, 238, 243))
        for i, text in enumerate(self.hud):
            painter.drawText(
                QPointF(box.x() + pad, box.y() + pad + metrics.ascent() + i * line - 2), text
            )
        if self.recording:
            dot = QPointF(area.right() - 58, area.y() + 22)
            painter.setBrush(RECORD)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(dot, 6, 6)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(QPointF(dot.x() + 12, dot.y() + metrics.ascent() / 2 - 1), "REC")


class TurntableView(ImageView):
    """The side view: drag to turn the mesh (horizontal: yaw, vertical: pitch)."""

    view_changed = pyqtSignal(float, float)  # yaw, pitch in degrees

    def __init__(self, yaw: float = 60.0, pitch: float = 10.0, parent: QWidget | None = None):
        super().__init__("The side view follows the largest person", parent)
        self.yaw, self.pitch = yaw, pitch
        self._home = (yaw, pitch)
        self._drag: QPointF | None = None
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setToolTip("Drag to turn the mesh; double-click to turn it back")

    def mousePressEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        if event is not None and event.button() == Qt.MouseButton.LeftButton:
            self._drag = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        if event is None or self._drag is None:
            return
        delta = event.position() - self._drag
        self._drag = event.position()
        self.yaw = (self.yaw + delta.x() * 0.6) % 360.0
        self.pitch = min(max(self.pitch + delta.y() * 0.4, -80.0), 80.0)
        self.view_changed.emit(self.yaw, self.pitch)

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        self._drag = None
        self.setCursor(Qt.CursorShape.OpenHandCursor)

    def mouseDoubleClickEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        self.yaw, self.pitch = self._home
        self.view_changed.emit(self.yaw, self.pitch)

    def resizeEvent(self, event: QResizeEvent | None) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.view_changed.emit(self.yaw, self.pitch)  # the picture is rendered at this size

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(260, 320)
