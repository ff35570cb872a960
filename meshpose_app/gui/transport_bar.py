"""Player controls under the video: play/pause, frame step, seek slider, loop, record."""

from __future__ import annotations

from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QStyle,
    QToolButton,
    QWidget,
)

from .worker import PlaybackState, SourceInfo


class TransportBar(QWidget):
    """Signals what the user asked; shows what the worker reports (``set_*``)."""

    play_clicked = pyqtSignal()
    step_clicked = pyqtSignal(int)  # -1 or +1 frame
    seek_requested = pyqtSignal(int)  # frame index
    loop_changed = pyqtSignal(bool)
    record_clicked = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._updating = False
        style = self.style()
        assert style is not None
        self._icons = {
            "play": style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay),
            "pause": style.standardIcon(QStyle.StandardPixmap.SP_MediaPause),
        }
        self.play = self._button(self._icons["play"], "Play / pause (Space)")
        self.back = self._button(
            style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekBackward), "Previous frame (Left)"
        )
        self.forward = self._button(
            style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward), "Next frame (Right)"
        )
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setToolTip("Seek")
        self.position = QLabel("–")
        self.position.setMinimumWidth(92)
        self.position.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.loop = QCheckBox("Loop")
        self.loop.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.record = QToolButton()
        self.record.setText("●  Record")
        self.record.setCheckable(True)
        self.record.setToolTip("Record the annotated view to mp4 + JSON (R)")
        self.record.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.record.setStyleSheet("QToolButton:checked { background: #b83232; color: white; }")

        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        for w in (self.back, self.play, self.forward):
            row.addWidget(w)
        row.addWidget(self.slider, 1)
        row.addWidget(self.position)
        row.addWidget(self.loop)
        row.addSpacing(8)
        row.addWidget(self.record)

        self.play.clicked.connect(self.play_clicked)
        self.back.clicked.connect(lambda: self.step_clicked.emit(-1))
        self.forward.clicked.connect(lambda: self.step_clicked.emit(1))
        self.slider.valueChanged.connect(self._slider_moved)
        self.loop.toggled.connect(self.loop_changed)
        self.record.clicked.connect(self._record_clicked)
        self.set_source(None)

    def _button(self, icon: object, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon)  # type: ignore[arg-type]
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setIconSize(QSize(22, 22))
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def _slider_moved(self, value: int) -> None:
        if not self._updating:  # the user moved it, not ``set_position``
            self.seek_requested.emit(value)

    def _record_clicked(self) -> None:
        self.record.setChecked(not self.record.isChecked())  # the worker's state decides
        self.record_clicked.emit()

    def set_source(self, info: SourceInfo | None) -> None:
        seekable = info is not None and info.seekable
        count = (info.frame_count or 1) if info is not None else 1
        self._updating = True
        self.slider.setRange(0, max(count - 1, 0))
        self.slider.setValue(0)
        self._updating = False
        for w in (self.slider, self.back, self.forward, self.loop):
            w.setEnabled(seekable)
        self.play.setEnabled(info is not None)
        self.position.setText("live" if info is not None and not seekable else "–")

    def set_position(self, index: int, count: int | None) -> None:
        if count:
            self.position.setText(f"{index + 1} / {count}")
            if not self.slider.isSliderDown():
                self._updating = True
                self.slider.setValue(index)
                self._updating = False

    def set_playback(self, state: PlaybackState) -> None:
        self.play.setIcon(self._icons["pause" if state.playing else "play"])
        self.record.setChecked(state.recording)
        self.loop.blockSignals(True)
        self.loop.setChecked(state.loop)
        self.loop.blockSignals(False)
