"""The main window: wires the panels to the worker and shows what it sends.

The window never touches the pipeline: user actions become ``PipelineWorker`` commands, and
worker signals update the widgets. Snapshots and mesh exports use the frame already on screen
and the pipeline's sinks (``ImageSink``, ``ObjSink``); recording runs in the worker.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from pathlib import Path

from PyQt6.QtCore import QByteArray, QSettings, Qt, QTimer
from PyQt6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from meshpose_app.options import EXIT_USAGE, OUT_DIR, SAMPLE_CLIP
from meshpose_core.pipeline import ImageSink, ObjSink, RenderConfig, SinkError
from meshpose_core.pipeline.layers import DEFAULT_LAYERS
from meshpose_core.tryon import list_garments, parse_outfit

from .garment_panel import GarmentPanel
from .image_view import TurntableView, VideoView
from .layer_panel import LayerPanel
from .model_panel import ModelPanel
from .player import SourceSpec
from .settings import (
    GUI_LAYERS,
    LAYER_LABELS,
    LayerSettings,
    ModelSettings,
    load_layers,
    load_model,
    save_layers,
    save_model,
)
from .source_panel import SourcePanel
from .stats_panel import StatsPanel
from .theme import apply_theme
from .transport_bar import TransportBar
from .worker import FramePacket, PipelineInfo, PipelineWorker, PlaybackState, Problem, SourceInfo

ORGANIZATION, APPLICATION = "MeshPose", "MeshPose Live"  # where QSettings keeps its file
STOP_WAIT_MS = 15_000  # the longest a close waits for the worker (a model load in progress)
MESSAGE_MS = 12_000
SIDE_VIEW_MAX_PX = 640
CLOSE_SIGNALS = (signal.SIGINT, signal.SIGTERM)
PANEL_HZ = 8  # refresh rate of the statistics and the position while playing
SHORTCUTS = (
    ("Space", "Play / pause"),
    ("Left / Right", "Previous / next frame"),
    ("R", "Start / stop recording (mp4 + JSON)"),
    ("S", "Save a snapshot (PNG)"),
    ("Ctrl+E", "Export the meshes of the frame shown (OBJ)"),
    ("1 – 7", "Toggle a layer"),
    ("F / Esc", "Full screen / leave it"),
    ("Ctrl+O", "Open a file"),
    ("Q", "Quit"),
)


def _stamp() -> str:
    return time.strftime("%Y%m%d_%H%M%S")


class MainWindow(QMainWindow):
    """MeshPose Live. ``store`` remembers settings between sessions; close to stop."""

    def __init__(
        self,
        store: QSettings,
        model: ModelSettings | None = None,
        layers: LayerSettings | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        model = model or load_model(store)
        layers = layers or load_layers(store)
        self.output_dir = Path(str(store.value("output_dir", str(OUT_DIR.resolve()))))
        self.packet: FramePacket | None = None  # the frame on screen
        self.playback = PlaybackState(False, False, bool(store.value("loop", True, type=bool)))
        self.source: SourceInfo | None = None
        self.pipeline_info = PipelineInfo(None, "loading…", "", "")
        self.dropped = 0
        self._dialog: QMessageBox | None = None
        self._docks_shown: list[QDockWidget] = []  # docks to show again after full screen
        self._panels_packet: FramePacket | None = None  # the packet the panels show
        self._panel_timer = QTimer(self)
        self._panel_timer.setInterval(round(1000 / PANEL_HZ))
        self._panel_timer.timeout.connect(self._refresh_panels)

        self.setWindowTitle("MeshPose Live")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.view = VideoView()
        self.transport = TransportBar()
        self.source_panel = SourcePanel(SAMPLE_CLIP, int(store.value("source/camera", 0, type=int)))
        last_file = str(store.value("source/path", "", type=str))
        if last_file:
            self.source_panel.last_folder = str(Path(last_file).parent)
        self.layer_panel = LayerPanel(layers)
        self.garment_panel = GarmentPanel(layers.outfits, list_garments())
        self.model_panel = ModelPanel(model)
        self.stats = StatsPanel()
        self.side_view = TurntableView()
        self._build_layout()
        self.actions_by_name: dict[str, QAction] = {}
        self._build_menus()

        self.worker = PipelineWorker(model, layers)
        self._connect()
        self.statusBar().showMessage("Starting…")  # type: ignore[union-attr]
        self.resize(1360, 800)
        geometry = store.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = store.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        self.worker.set_loop(self.playback.loop)
        self.worker.start()

    # -- layout -----------------------------------------------------------------------------

    def _build_layout(self) -> None:
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.view, 1)
        column.addWidget(self.transport)
        self.setCentralWidget(central)

        controls = QWidget()
        stack = QVBoxLayout(controls)
        panels = (self.source_panel, self.layer_panel, self.garment_panel, self.model_panel)
        for panel in panels:
            stack.addWidget(panel)
        stack.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        bar = scroll.verticalScrollBar()
        # wide enough for the panels and a vertical scroll bar: no horizontal one
        scroll.setMinimumWidth(
            max(300, controls.minimumSizeHint().width()) + (bar.sizeHint().width() if bar else 0)
        )
        self.controls_dock = self._dock("Controls", scroll, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.stats_dock = self._dock(
            "Performance", self.stats, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.side_dock = self._dock(
            "Side view", self.side_view, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.side_dock.hide()  # costs a render per frame: on request (View menu)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))  # saveState needs names
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _action(self, menu_name: str, text: str, slot: object, key: str = "") -> QAction:
        action = QAction(text, self)
        if key:
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)  # type: ignore[arg-type]
        self.addAction(action)  # shortcuts work with the menu bar hidden (full screen)
        menu = self._menus[menu_name]
        menu.addAction(action)
        self.actions_by_name[text] = action
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        assert bar is not None
        self._menus = {n: bar.addMenu(f"&{n}") for n in ("File", "Playback", "View", "Help")}
        a = self._action
        a("File", "Open file…", self.source_panel.choose_file, "Ctrl+O")
        a("File", "Open sample clip", lambda: self.open_source(SourceSpec(path=str(SAMPLE_CLIP))))
        a("File", "Open camera", self.source_panel.camera_button.click)
        self._menus["File"].addSeparator()
        a("File", "Save snapshot", self.save_snapshot, "S")
        a("File", "Export meshes (OBJ)", self.export_meshes, "Ctrl+E")
        a("File", "Output folder…", self.choose_output_dir)
        self._menus["File"].addSeparator()
        a("File", "Quit", self.close, "Q")

        a("Playback", "Play / pause", lambda: self.worker.toggle_playing(), "Space")
        a("Playback", "Next frame", lambda: self.worker.step(1), "Right")
        a("Playback", "Previous frame", lambda: self.worker.step(-1), "Left")
        loop = a("Playback", "Loop", lambda on: self.worker.set_loop(on))
        loop.setCheckable(True)
        loop.setChecked(self.playback.loop)
        realtime = a("Playback", "Play files at their frame rate", self._set_realtime)
        realtime.setCheckable(True)
        realtime.setChecked(bool(self.store.value("realtime", True, type=bool)))
        self._menus["Playback"].addSeparator()
        a("Playback", "Record", self.toggle_recording, "R")

        for i, name in enumerate(GUI_LAYERS):
            a("View", f"Layer {i + 1}: {LAYER_LABELS[name]}", self._layer_toggler(i), str(i + 1))
        self._menus["View"].addSeparator()
        a("View", "Full screen", self.toggle_fullscreen, "F")
        a("View", "Leave full screen", self.leave_fullscreen, "Esc")
        self._menus["View"].addSeparator()
        for dock in (self.controls_dock, self.stats_dock, self.side_dock):
            self._menus["View"].addAction(dock.toggleViewAction())

        a("Help", "Keyboard shortcuts", self.show_shortcuts)
        a("Help", "Copy the equivalent command line", self.copy_command_line)

    def _layer_toggler(self, index: int) -> object:
        return lambda: self.layer_panel.toggle(index)

    def _connect(self) -> None:
        w = self.worker
        w.frame_ready.connect(self._on_frame)
        w.source_changed.connect(self._on_source)
        w.pipeline_changed.connect(self._on_pipeline)
        w.playback_changed.connect(self._on_playback)
        w.message.connect(self.show_message)
        w.problem.connect(self.show_problem)
        self.source_panel.open_requested.connect(self.open_source)
        self.layer_panel.changed.connect(w.set_layers)
        self.garment_panel.changed.connect(self._outfits_picked)
        w.outfits_changed.connect(self._outfits_worn)
        self.model_panel.changed.connect(w.set_model)
        self.transport.play_clicked.connect(w.toggle_playing)
        self.transport.step_clicked.connect(w.step)
        self.transport.seek_requested.connect(w.seek)
        self.transport.loop_changed.connect(w.set_loop)
        self.transport.record_clicked.connect(self.toggle_recording)
        self.side_dock.visibilityChanged.connect(lambda _: self._send_side_view())
        self.side_view.view_changed.connect(lambda *_: self._send_side_view())
        w.set_realtime(bool(self.store.value("realtime", True, type=bool)))

    # -- worker -> window -------------------------------------------------------------------

    def _on_frame(self, packet: FramePacket) -> None:
        if packet.seq < self.worker.latest_seq:  # a newer frame is already on its way
            self.dropped += 1
            return
        self.packet = packet
        self.view.set_image(packet.image)
        if packet.side_view is not None:
            self.side_view.set_image(packet.side_view)
        self.stats.record(packet)
        self.view.set_hud(self.hud_lines(packet), self.playback.recording)
        if not self.playback.playing:
            self._refresh_panels()  # a step or a redraw: show its numbers at once
        elif not self._panel_timer.isActive():
            self._panel_timer.start()

    def _refresh_panels(self) -> None:
        """Position and statistics of the newest frame. While playing this runs
        ``PANEL_HZ`` times a second, not per frame: numbers changing faster cannot be read,
        and repainting the panels for every frame would take CPU time from the pipeline."""
        packet = self.packet
        if packet is None or packet is self._panels_packet:
            self._panel_timer.stop()
            return
        self._panels_packet = packet
        self.transport.set_position(packet.result.index, packet.frame_count)
        self.stats.show_numbers(packet, self.view.shown.rate(), self.dropped)

    def hud_lines(self, packet: FramePacket) -> list[str]:
        people = len(packet.result.people)
        device = self.pipeline_info.device.upper() or "–"
        if self.pipeline_info.settings is None:
            second = "no model loaded: choose one under Model"
        else:
            noun = "person" if people == 1 else "people"
            second = f"{people} {noun}   {packet.result.total_ms:5.1f} ms   {device}"
        return [
            f"display {self.view.shown.rate():4.1f} FPS   inference {packet.pipeline_fps:4.1f} FPS",
            second,
        ]

    def _on_source(self, info: SourceInfo) -> None:
        self.source = info
        self.transport.set_source(info)
        self.stats.graph.clear()
        self.source_panel.set_current(info.description)
        self.setWindowTitle(f"MeshPose Live — {info.spec.label}")
        if info.spec.camera is not None:
            self.store.setValue("source/camera", info.spec.camera)
        elif info.spec.path is not None:
            self.store.setValue("source/path", info.spec.path)

    def _on_pipeline(self, info: PipelineInfo) -> None:
        self.pipeline_info = info
        if info.settings is not None:
            self.model_panel.set_settings(info.settings)
        self.stats.set_pipeline(info)

    def _on_playback(self, state: PlaybackState) -> None:
        self.playback = state
        self.transport.set_playback(state)
        self.actions_by_name["Loop"].setChecked(state.loop)
        self.view.recording = state.recording
        self.view.update()
        if not state.playing:
            self._refresh_panels()  # paused: the numbers of the frame that stays on screen

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, MESSAGE_MS)  # type: ignore[union-attr]

    def show_problem(self, problem: Problem) -> None:
        """A non-blocking dialog (a modal loop would stall the frames behind it)."""
        if self._dialog is not None:
            self._dialog.close()
        box = QMessageBox(QMessageBox.Icon.Warning, problem.title, problem.text, parent=self)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        if problem.missing_weights:
            box.setInformativeText(
                "Put a trained checkpoint in weights/ (see docs/training.md), or choose a "
                ".safetensors / .onnx weights file. Until then the input plays without meshes."
            )
            choose = box.addButton("Choose weights file…", QMessageBox.ButtonRole.ActionRole)
            assert choose is not None
            choose.clicked.connect(self.model_panel.choose_weights_file)
        box.addButton(QMessageBox.StandardButton.Close)
        box.finished.connect(lambda _: self.activateWindow())  # shortcuts work again at once
        box.open()
        self._dialog = box

    # -- window -> worker -------------------------------------------------------------------

    def open_source(self, spec: SourceSpec) -> None:
        self.show_message(f"Opening {spec.label}…")
        self.worker.open_source(spec)

    def _outfits_picked(self, outfits: tuple[tuple[str, ...], ...]) -> None:
        """A garment picked: dress people in it (and show the garment layer if it was off)."""
        layers = self.layer_panel.layers.with_outfits(outfits)
        if not layers["garment"].enabled:
            layers = layers.with_layer("garment", enabled=True)
        self.layer_panel.set_layers(layers)
        self.worker.set_layers(layers)

    def _outfits_worn(self, outfits: tuple[tuple[str, ...], ...]) -> None:
        """What the worker dresses people in now (after a garment that could not be loaded:
        the previous outfits)."""
        self.garment_panel.set_outfits(outfits)
        self.layer_panel.set_layers(self.layer_panel.layers.with_outfits(outfits))

    def _set_realtime(self, on: bool) -> None:
        self.store.setValue("realtime", on)
        self.worker.set_realtime(on)

    def toggle_recording(self) -> None:
        if self.playback.recording:
            self.worker.stop_recording()
        else:
            self.start_recording(*self.recording_paths())

    def recording_paths(self) -> tuple[Path, Path]:
        stem = self.output_dir / "recordings" / f"meshpose_{_stamp()}"
        return stem.with_suffix(".mp4"), stem.with_suffix(".json")

    def start_recording(self, video: Path | None, json: Path | None) -> None:
        self.worker.start_recording(video, json)

    def _send_side_view(self) -> None:
        if not self.side_dock.isVisible():
            self.worker.set_side_view(None)
            return
        width = min(max(self.side_view.width(), 64), SIDE_VIEW_MAX_PX)
        height = min(max(self.side_view.height(), 64), SIDE_VIEW_MAX_PX)
        self.worker.set_side_view((self.side_view.yaw, self.side_view.pitch, width, height))

    # -- actions ----------------------------------------------------------------------------

    def save_snapshot(self) -> Path | None:
        """The frame on screen (without the HUD) as a PNG in the output folder."""
        image = self.view.image_array
        if image is None:
            self.show_message("No frame to save yet")
            return None
        try:
            path = ImageSink(self.output_dir / "snapshots").write(image, f"snapshot_{_stamp()}.png")
        except (SinkError, OSError) as exc:
            self.show_message(f"Snapshot failed: {exc}")
            return None
        self.show_message(f"Saved {path}")
        return path

    def export_meshes(self) -> list[Path]:
        """Every person of the frame on screen as an OBJ (6890 vertices, UVs)."""
        if self.packet is None or not self.packet.result.people:
            self.show_message("No person in the frame shown: nothing to export")
            return []
        try:
            sink = ObjSink(self.output_dir / "meshes")
            paths = sink.write(
                self.packet.result, f"frame{self.packet.result.index:06d}_{_stamp()}"
            )
        except (SinkError, OSError) as exc:
            self.show_message(f"Export failed: {exc}")
            return []
        self.show_message(f"Exported {len(paths)} mesh(es) to {paths[0].parent}")
        return paths

    def choose_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", str(self.output_dir))
        if folder:
            self.output_dir = Path(folder)
            self.store.setValue("output_dir", folder)
            self.show_message(f"Snapshots, meshes and recordings go to {folder}")

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.leave_fullscreen()
            return
        docks = (self.controls_dock, self.stats_dock, self.side_dock)
        self._docks_shown = [d for d in docks if d.isVisible()]
        for dock in self._docks_shown:
            dock.hide()
        self.menuBar().hide()  # type: ignore[union-attr]
        self.statusBar().hide()  # type: ignore[union-attr]
        self.showFullScreen()

    def leave_fullscreen(self) -> None:
        if not self.isFullScreen():
            return
        self.showNormal()
        self.menuBar().show()  # type: ignore[union-attr]
        self.statusBar().show()  # type: ignore[union-attr]
        for dock in self._docks_shown:
            dock.show()

    def show_shortcuts(self) -> None:
        rows = "".join(
            f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in SHORTCUTS
        )
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "Keyboard shortcuts",
            f"<table>{rows}</table>",
            parent=self,
        )
        box.open()
        self._dialog = box

    def command_line(self) -> str:
        """The headless command that processes the current input with the current settings."""
        args = [sys.executable, "run_demo.py"]
        spec = self.source.spec if self.source else SourceSpec(path=str(SAMPLE_CLIP))
        if spec.is_camera:
            args += ["--webcam", f"--camera={spec.camera}"]
        else:
            args += ["--images" if spec.is_images else "--video", str(spec.path)]
        args += self.model_panel.settings.cli_args(self.layer_panel.layers)
        return shlex.join([*args, "--headless"])

    def copy_command_line(self) -> None:
        clipboard = QApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.command_line())
        self.show_message("Copied the equivalent command line to the clipboard")

    # -- Qt events --------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent | None) -> None:  # noqa: N802 - Qt's name
        mime = event.mimeData() if event is not None else None
        if event is not None and mime is not None and any(u.isLocalFile() for u in mime.urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent | None) -> None:  # noqa: N802
        mime = event.mimeData() if event is not None else None
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime else []
        if files:
            self.open_source(SourceSpec(path=files[0]))

    def resizeEvent(self, event: object) -> None:  # noqa: N802
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self.side_dock.isVisible():
            QTimer.singleShot(0, self._send_side_view)

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802
        """Remember the settings, then stop the worker (it closes recordings and the GL
        context in its own thread) before the window goes."""
        self.leave_fullscreen()
        self.store.setValue("window/geometry", self.saveGeometry())
        self.store.setValue("window/state", self.saveState())
        self.store.setValue("loop", self.playback.loop)
        save_layers(self.store, self.layer_panel.layers)
        save_model(self.store, self.model_panel.settings)
        self.store.sync()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> bool:
        """Stop the worker thread and wait for it; False if it did not stop in time."""
        if not self.worker.isRunning():
            return True
        self.worker.stop()
        return self.worker.wait(STOP_WAIT_MS)


# -- entry points ---------------------------------------------------------------------------


def initial_settings(
    store: QSettings, args: argparse.Namespace
) -> tuple[ModelSettings, LayerSettings]:
    """Remembered settings, overridden by the options given on the command line."""
    model = load_model(store).overridden_by(ModelSettings.from_args(args))
    layers = load_layers(store)
    if args.layers != DEFAULT_LAYERS:
        layers = LayerSettings.from_spec(args.layers, layers)
    if args.video_opacity != RenderConfig.video_opacity:
        layers = layers.with_layer("video", True, args.video_opacity)
    if args.garment:
        layers = layers.with_outfits(tuple(parse_outfit(g) for g in args.garment))
    return model, layers


def run_gui(args: argparse.Namespace) -> int:
    """Open the window on ``--webcam`` / ``--video`` (CLI arguments); returns the exit code
    (2 for a bad option value, with one line on stderr as the CLI does)."""
    store = QSettings(ORGANIZATION, APPLICATION)
    try:
        model, layers = initial_settings(store, args)
    except ValueError as exc:  # e.g. --layers mesh,bones
        print(f"meshpose-demo: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.export_obj or args.export_npz or args.export_iuv or args.export_glb:
        print(
            "note: --export-obj / --export-npz / --export-iuv / --export-glb need "
            "--headless; in the window use "
            "File > Export meshes (OBJ)",
            file=sys.stderr,
        )
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    apply_theme(app)
    window = MainWindow(store, model, layers)
    window.open_source(
        SourceSpec(camera=args.camera) if args.webcam else SourceSpec(path=args.video)
    )
    if args.out or args.export_json:
        window.start_recording(
            Path(args.out) if args.out else None,
            Path(args.export_json) if args.export_json else None,
        )
    window.show()
    return exec_closing_on_signals(app, window)


def exec_closing_on_signals(app: QApplication, window: MainWindow) -> int:
    """``app.exec()``, with Ctrl-C / SIGTERM closing the window like its Quit (the worker
    stops and a recording is finished) instead of being ignored while Qt runs."""
    previous = {s: signal.signal(s, lambda *_: window.close()) for s in CLOSE_SIGNALS}
    wake = QTimer()
    wake.timeout.connect(lambda: None)  # Python handles signals only when it runs
    wake.start(200)
    try:
        return app.exec()
    finally:
        wake.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
