"""The input picker: the bundled sample clip, a file, or a camera by index."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from meshpose_core.pipeline.sources import IMAGE_SUFFIXES

from .player import SourceSpec

VIDEO_FILTER = "Videos and images (*.mp4 *.mov *.avi *.mkv *.webm *.m4v {images});;All files (*)"


class SourcePanel(QGroupBox):
    """Emits ``open_requested`` with the input the user picked."""

    open_requested = pyqtSignal(object)  # SourceSpec

    def __init__(self, sample: Path, camera: int = 0, parent: QWidget | None = None) -> None:
        super().__init__("Input", parent)
        self.sample = sample
        self.last_folder = str(sample.parent)
        self.sample_button = QPushButton("Sample clip")
        self.sample_button.setToolTip(str(sample))
        self.file_button = QPushButton("Open file…")
        self.file_button.setToolTip("A video or an image (Ctrl+O); or drop a file on the window")
        self.camera_button = QPushButton("Camera")
        self.camera_button.setToolTip("Open the camera with this index")
        self.camera_index = QSpinBox()
        self.camera_index.setRange(0, 99)
        self.camera_index.setValue(camera)
        self.camera_index.setPrefix("#")
        self.current = QLabel("No input")
        self.current.setWordWrap(True)
        self.current.setStyleSheet("color: #aeb4bf;")
        for b in (self.sample_button, self.file_button, self.camera_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        grid = QGridLayout(self)
        grid.addWidget(self.sample_button, 0, 0)
        grid.addWidget(self.file_button, 0, 1, 1, 2)
        grid.addWidget(self.camera_button, 1, 0)
        grid.addWidget(self.camera_index, 1, 1, 1, 2)
        grid.addWidget(self.current, 2, 0, 1, 3)
        self.sample_button.clicked.connect(
            lambda: self.open_requested.emit(SourceSpec(path=str(sample)))
        )
        self.file_button.clicked.connect(self.choose_file)
        self.camera_button.clicked.connect(
            lambda: self.open_requested.emit(SourceSpec(camera=self.camera_index.value()))
        )

    def choose_file(self) -> None:
        images = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a video or an image", self.last_folder, VIDEO_FILTER.format(images=images)
        )
        if path:
            self.last_folder = str(Path(path).parent)
            self.open_requested.emit(SourceSpec(path=path))

    def set_current(self, text: str) -> None:
        self.current.setText(text)
