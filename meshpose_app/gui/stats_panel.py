"""The status panel: frame rates, people, model and device, per-stage latency and its graph."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from meshpose_core.pipeline import STAGES

from .latency_graph import LatencyGraph
from .theme import STAGE_COLORS
from .worker import FramePacket, PipelineInfo

RENDERER_NAMES = {"gl": "OpenGL", "cpu": "CPU rasterizer", "pyrender": "pyrender", "": "–"}


def _value_label() -> QLabel:
    label = QLabel("–")
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class StatsPanel(QWidget):
    """Numbers of the newest frame: ``record`` every frame, ``show_numbers`` now and then."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: dict[str, QLabel] = {}
        self._graphed: object = None
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(3)
        rows = (
            ("display_fps", "Display"),
            ("pipeline_fps", "Inference"),
            ("frame_ms", "Frame time"),
            ("people", "People"),
            ("model", "Model"),
            ("device", "Device"),
            ("renderer", "Renderer"),
            ("dropped", "Dropped by GUI"),
        )
        for row, (key, text) in enumerate(rows):
            grid.addWidget(QLabel(text), row, 0)
            self.values[key] = _value_label()
            grid.addWidget(self.values[key], row, 1)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setStyleSheet("color: #34373d;")
        grid.addWidget(line, len(rows), 0, 1, 2)
        for i, stage in enumerate(STAGES):
            row = len(rows) + 1 + i
            color = STAGE_COLORS[stage].name()
            label = QLabel(f"<span style='color:{color}'>■</span>&nbsp; {stage}")
            grid.addWidget(label, row, 0)
            self.values[stage] = _value_label()
            grid.addWidget(self.values[stage], row, 1)
        self.graph = LatencyGraph(STAGES)
        self.graph.setToolTip("Latency per stage (ms), last 100 frames; dashed: 33 ms (30 FPS)")
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.graph)
        layout.addStretch(1)

    def record(self, packet: FramePacket) -> None:
        """Add a displayed frame to the graph (cheap: call it for every frame)."""
        lat = packet.result.latency_ms
        if lat is not self._graphed:  # a redraw of the same frame adds no point
            self._graphed = lat
            self.graph.add(lat)

    def show_numbers(self, packet: FramePacket, display_fps: float, dropped: int) -> None:
        """Show the numbers of ``packet`` and repaint the graph (a few times a second)."""
        lat = packet.result.latency_ms
        self.values["display_fps"].setText(f"{display_fps:.1f} FPS")
        self.values["pipeline_fps"].setText(f"{packet.pipeline_fps:.1f} FPS")
        self.values["frame_ms"].setText(f"{packet.result.total_ms:.1f} ms")
        self.values["people"].setText(str(len(packet.result.people)))
        self.values["dropped"].setText(str(dropped))
        for stage in STAGES:
            self.values[stage].setText(f"{lat.get(stage, 0.0):.1f} ms")
        self.graph.update()

    def set_pipeline(self, info: PipelineInfo) -> None:
        name = info.model.split(" (")[0]
        self.values["model"].setText(name if len(name) <= 20 else name[:19] + "…")
        self.values["model"].setToolTip(info.model)
        self.values["device"].setText(info.device.upper() if info.device else "–")
        self.values["renderer"].setText(RENDERER_NAMES.get(info.renderer, info.renderer))
