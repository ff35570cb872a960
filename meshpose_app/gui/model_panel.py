"""The model and tracking controls; any change asks the worker for a new pipeline.

Changes are debounced (dragging the smoothing slider must not load the model ten times) and
the panel shows what the worker actually runs (``set_settings``), so a model that failed to
load snaps back to the one still running.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QWidget,
)

from meshpose_core.model.checkpoint import resolve_weights

from .settings import MODEL_PRESETS, ModelSettings

BACKENDS = (("Auto", "auto"), ("PyTorch", "torch"), ("ONNX Runtime", "onnx"), ("LiteRT", "litert"))
DEVICES = (("Auto", "auto"), ("CPU", "cpu"), ("GPU (CUDA)", "cuda"))
RENDERERS = (("OpenGL", "moderngl"), ("CPU rasterizer", "cpu")) + (
    (("pyrender", "pyrender"),) if importlib.util.find_spec("pyrender") else ()  # optional
)
DETECTORS = (
    ("Auto (BlazePose for a camera or a close-up, else YOLOX)", "auto"),
    ("YOLOX (every person)", "yolox"),
    ("BlazePose (close-up)", "blazepose"),
)
SURFACES = (("Outline (clothes, hair)", "outline"), ("Body", "body"))
CHOOSE_FILE = "__file__"
DEBOUNCE_MS = 400


def _combo(items: tuple[tuple[str, str], ...]) -> QComboBox:
    combo = QComboBox()
    for text, data in items:
        combo.addItem(text, data)
    combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return combo


def _select(combo: QComboBox, data: str) -> None:
    index = combo.findData(data)
    if index >= 0:
        combo.setCurrentIndex(index)


class ModelPanel(QGroupBox):
    """Emits ``changed`` with the new ``ModelSettings`` (debounced)."""

    changed = pyqtSignal(object)  # ModelSettings

    def __init__(self, settings: ModelSettings, parent: QWidget | None = None) -> None:
        super().__init__("Model and tracking", parent)
        self._settings = settings
        self.model = QComboBox()
        self.model.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # a long weights file name must not widen the whole dock
        self.model.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model.setMinimumContentsLength(14)
        for text, preset in MODEL_PRESETS:
            self.model.addItem(text, preset)
            if not resolve_weights(preset).is_file():
                self.model.setItemText(self.model.count() - 1, f"{text}  (no weights)")
                self.model.setItemData(
                    self.model.count() - 1,
                    f"{resolve_weights(preset)} does not exist yet",
                    Qt.ItemDataRole.ToolTipRole,
                )
        self.model.addItem("Weights file…", CHOOSE_FILE)
        self.backend = _combo(BACKENDS)
        self.device = _combo(DEVICES)
        self.renderer = _combo(RENDERERS)
        self.detector = _combo(DETECTORS)
        self.surface = _combo(SURFACES)
        self.max_people = QSpinBox()
        self.max_people.setRange(1, 50)
        self.detect_every = QSpinBox()
        self.detect_every.setRange(1, 60)
        self.detect_every.setSuffix(" frames")
        self.detector_score = QDoubleSpinBox()
        self.detector_score.setRange(0.05, 0.95)
        self.detector_score.setSingleStep(0.05)
        self.detector_score.setDecimals(2)
        self.always_detect = QCheckBox("also in still scenes")
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 30)  # strength x 10
        self.smoothing.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._smoothing_value = QLabel()
        self._smoothing_value.setMinimumWidth(34)
        smoothing = QHBoxLayout()
        smoothing.addWidget(self.smoothing, 1)
        smoothing.addWidget(self._smoothing_value)

        form = QFormLayout(self)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Model", self.model)
        form.addRow("Backend", self.backend)
        form.addRow("Device", self.device)
        form.addRow("Renderer", self.renderer)
        form.addRow("Surface", self.surface)
        form.addRow("Max people", self.max_people)
        form.addRow("Smoothing", smoothing)
        form.addRow("Detector", self.detector)
        form.addRow("Detector score", self.detector_score)
        form.addRow("Detect every", self.detect_every)
        form.addRow("", self.always_detect)
        self.smoothing.setToolTip("Temporal smoothing of the meshes (One-Euro): 0 off, 1 normal")
        self.detector.setToolTip(
            "yolox: every visible person, any pose; blazepose: face and upper body, "
            "for one person close to the camera; auto: blazepose for a camera and for a "
            "file or picture that shows a close-up, yolox otherwise"
        )
        self.surface.setToolTip(
            "Outline: the mesh covers the person as seen (the body widened about each bone "
            "by scales fitted to people's masks); Body: the body surface itself"
        )
        self.detect_every.setToolTip("Run the person detector every N frames (sooner when lost)")
        self.detector_score.setToolTip(
            "YOLOX keeps people scoring at least this; a low-scored one is drawn only when its "
            "mesh looks like a person. Lower: more people found, more false ones"
        )
        self.always_detect.setToolTip(
            "Off: a scheduled detection is skipped (up to 3 in a row) while nothing moved "
            "outside the tracked people"
        )

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._emit)
        self.set_settings(settings)
        self.model.activated.connect(self._model_chosen)
        for combo in (self.backend, self.device, self.renderer, self.detector, self.surface):
            combo.activated.connect(lambda _=0: self._schedule(0))
        for spin in (self.max_people, self.detect_every, self.detector_score):
            spin.valueChanged.connect(lambda _=0: self._schedule(DEBOUNCE_MS))
        self.smoothing.valueChanged.connect(self._smoothing_moved)
        self.always_detect.toggled.connect(lambda _=False: self._schedule(0))

    @property
    def settings(self) -> ModelSettings:
        return self._settings

    def set_settings(self, settings: ModelSettings) -> None:
        """Show ``settings`` without emitting ``changed``."""
        self._settings = settings
        widgets = (self.model, self.backend, self.device, self.renderer, self.max_people)
        widgets += (self.detect_every, self.always_detect, self.smoothing, self.detector)
        widgets += (self.surface,)
        widgets += (self.detector_score,)
        for w in widgets:
            w.blockSignals(True)
        if self.model.findData(settings.model) < 0:
            self.model.insertItem(self.model.count() - 1, Path(settings.model).name, settings.model)
        _select(self.model, settings.model)
        _select(self.backend, settings.backend)
        _select(self.device, settings.device)
        _select(self.renderer, settings.renderer)
        _select(self.detector, settings.detector)
        _select(self.surface, settings.surface)
        self.max_people.setValue(settings.max_people)
        self.detect_every.setValue(settings.detect_every)
        self.detector_score.setValue(settings.detector_score)
        self.always_detect.setChecked(settings.always_detect)
        self.smoothing.setValue(round(settings.smoothing * 10))
        self._smoothing_value.setText(f"{settings.smoothing:.1f}")
        for w in widgets:
            w.blockSignals(False)

    def choose_weights_file(self) -> None:
        """Ask for a .safetensors / .onnx file and switch to it."""
        path, _ = QFileDialog.getOpenFileName(
            self, "MeshPose weights", str(resolve_weights("xs").parent),
            "MeshPose weights (*.safetensors *.onnx);;All files (*)",
        )  # fmt: skip
        if path:
            self.set_settings(replace(self._current(), model=path))
            self._schedule(0)
        else:
            _select(self.model, self._settings.model)

    def _model_chosen(self, index: int) -> None:
        if self.model.itemData(index) == CHOOSE_FILE:
            self.choose_weights_file()
        else:
            self._schedule(0)

    def _smoothing_moved(self, value: int) -> None:
        self._smoothing_value.setText(f"{value / 10:.1f}")
        self._schedule(DEBOUNCE_MS)

    def _schedule(self, delay_ms: int) -> None:
        self._timer.start(delay_ms)

    def _current(self) -> ModelSettings:
        return replace(
            self._settings,
            model=self.model.currentData(),
            backend=self.backend.currentData(),
            device=self.device.currentData(),
            renderer=self.renderer.currentData(),
            max_people=self.max_people.value(),
            smoothing=self.smoothing.value() / 10,
            detect_every=self.detect_every.value(),
            always_detect=self.always_detect.isChecked(),
            detector=self.detector.currentData(),
            surface=self.surface.currentData(),
            detector_score=round(self.detector_score.value(), 2),
        )

    def _emit(self) -> None:
        current = self._current()
        if current.model == CHOOSE_FILE:
            return
        if current != self._settings:
            self._settings = current
            self.changed.emit(current)
