"""The layer controls: per layer a checkbox (keys 1-7) and an opacity slider."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QLabel, QSlider, QWidget

from .settings import GUI_LAYERS, LAYER_LABELS, LayerSettings


class LayerPanel(QGroupBox):
    """Emits ``changed`` with the new ``LayerSettings`` on every user change."""

    changed = pyqtSignal(object)  # LayerSettings

    def __init__(self, layers: LayerSettings, parent: QWidget | None = None) -> None:
        super().__init__("Layers", parent)
        self._layers = layers
        self.checkboxes: dict[str, QCheckBox] = {}
        self.sliders: dict[str, QSlider] = {}
        self._values: dict[str, QLabel] = {}
        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        grid.setHorizontalSpacing(10)
        for row, name in enumerate(GUI_LAYERS):
            box = QCheckBox(f"{row + 1}  {LAYER_LABELS[name]}")
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            value = QLabel()
            value.setMinimumWidth(34)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for w in (box, slider):
                w.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay the window's shortcuts
            box.toggled.connect(lambda on, n=name: self._edit(n, enabled=on))
            slider.valueChanged.connect(lambda v, n=name: self._edit(n, opacity=v / 100))
            box.setToolTip(f"Show or hide the layer (key {row + 1})")
            slider.setToolTip("Opacity")
            grid.addWidget(box, row, 0)
            grid.addWidget(slider, row, 1)
            grid.addWidget(value, row, 2)
            self.checkboxes[name], self.sliders[name], self._values[name] = box, slider, value
        self.set_layers(layers)

    @property
    def layers(self) -> LayerSettings:
        return self._layers

    def set_layers(self, layers: LayerSettings) -> None:
        """Show ``layers`` without emitting ``changed``."""
        self._layers = layers
        for name in GUI_LAYERS:
            state = layers[name]
            for w in (self.checkboxes[name], self.sliders[name]):
                w.blockSignals(True)
            self.checkboxes[name].setChecked(state.enabled)
            self.sliders[name].setValue(round(state.opacity * 100))
            for w in (self.checkboxes[name], self.sliders[name]):
                w.blockSignals(False)
            self._show_value(name)

    def toggle(self, index: int) -> None:
        """Toggle the ``index``-th layer (0-based), as its number key does."""
        name = GUI_LAYERS[index]
        if self.checkboxes[name].isEnabled():
            self.checkboxes[name].toggle()

    def _edit(self, name: str, enabled: bool | None = None, opacity: float | None = None) -> None:
        self._layers = self._layers.with_layer(name, enabled, opacity)
        self._show_value(name)
        self.changed.emit(self._layers)

    def _show_value(self, name: str) -> None:
        state = self._layers[name]
        self._values[name].setText(f"{round(state.opacity * 100)}%")
        self.sliders[name].setEnabled(state.enabled)
