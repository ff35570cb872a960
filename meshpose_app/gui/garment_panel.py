"""The garment picker: what the garment layer dresses people in.

Two outfits, each one or two garments: people 1, 3, … wear the first, people 2, 4, … the
second (or the first too: *as above*), in the order they appear, as the
pipeline's ``RenderConfig.outfits`` cycles them. Each list holds the shipped garments and
*Open image…*, which adds a user image: an atlas-layout texture (painted on
``assets/garments/uv_template.png``) or a plain image placed on a body region. The panel only
edits names; the worker loads them (a bad file comes back as an error dialog and the panel
snaps back to what is worn, ``set_outfits``).
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QInputDialog,
    QLabel,
    QWidget,
)

from meshpose_core.tryon.regions import REGIONS
from meshpose_core.tryon.registry import IMAGE_SUFFIXES, split_region

from .settings import DEFAULT_OUTFITS

OPEN_IMAGE = "__open_image__"  # item data of the "Open image…" entries
NONE = ""  # no second garment / no second outfit
ATLAS_CHOICE = "the whole body (an atlas texture laid out like uv_template.png)"
ROWS = ("1, 3, …", "2, 4, …")  # people, in the order they appear


def garment_label(spec: str) -> str:
    """What a combo box shows for a garment spec: the name, or the file name (@ region)."""
    image, region = split_region(spec)
    name = Path(image).name if Path(image).suffix else str(image)
    return f"{name} @ {region}" if region else name


class GarmentPanel(QGroupBox):
    """Emits ``changed`` with the new outfits (a tuple of garment-name tuples)."""

    changed = pyqtSignal(object)  # tuple[tuple[str, ...], ...]

    def __init__(
        self,
        outfits: tuple[tuple[str, ...], ...],
        garments: list[str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Garments", parent)
        self.garments = list(garments)
        self.last_folder = str(Path.home())
        # first[row] / second[row]: the outfit's garment and an optional second one
        self.first: list[QComboBox] = []
        self.second: list[QComboBox] = []
        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        for row, label in enumerate(ROWS):
            first = self._combo(NONE if row else None, "as above")
            second = self._combo(NONE, "—")
            first.setToolTip(f"What people {label} wear (people in the order they appear)")
            second.setToolTip("A second garment worn with it (e.g. a skirt with a t-shirt)")
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(first, row, 1)
            grid.addWidget(QLabel("+"), row, 2)
            grid.addWidget(second, row, 3)
            self.first.append(first)
            self.second.append(second)
        for combo in (*self.first, *self.second):
            combo.activated.connect(lambda _=0, c=combo: self._picked(c))
        self._outfits = DEFAULT_OUTFITS
        self.set_outfits(outfits)

    def _combo(self, empty: str | None, empty_text: str) -> QComboBox:
        combo = QComboBox()
        combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(6)
        if empty is not None:
            combo.addItem(empty_text, empty)
        for name in self.garments:
            combo.addItem(name, name)
        combo.addItem("Open image…", OPEN_IMAGE)
        return combo

    @property
    def outfits(self) -> tuple[tuple[str, ...], ...]:
        return self._outfits

    def _read(self) -> tuple[tuple[str, ...], ...]:
        """The outfits the combo boxes show."""
        outfits = []
        for first, second in zip(self.first, self.second, strict=True):
            garments = tuple(g for g in (first.currentData(), second.currentData()) if g)
            if garments:
                outfits.append(garments)
            elif not outfits:  # no first outfit: nothing after it counts
                break
        return tuple(outfits) or DEFAULT_OUTFITS

    def set_outfits(self, outfits: tuple[tuple[str, ...], ...]) -> None:
        """Show ``outfits`` (two at most, of two garments at most) without emitting."""
        outfits = tuple(outfits)[: len(ROWS)] or DEFAULT_OUTFITS
        self._outfits = tuple(tuple(o[:2]) for o in outfits)
        for row, (first, second) in enumerate(zip(self.first, self.second, strict=True)):
            outfit = self._outfits[row] if row < len(self._outfits) else ()
            for combo, spec in ((first, outfit[:1]), (second, outfit[1:2])):
                combo.blockSignals(True)
                self._select(combo, spec[0] if spec else NONE)
                combo.blockSignals(False)

    def _select(self, combo: QComboBox, spec: str) -> None:
        if combo.findData(spec) < 0:  # a user image: every list gets it
            for c in (*self.first, *self.second):
                if c.findData(spec) < 0:
                    c.insertItem(c.count() - 1, garment_label(spec), spec)
                    c.setItemData(c.count() - 2, spec, Qt.ItemDataRole.ToolTipRole)
        combo.setCurrentIndex(combo.findData(spec))

    def _picked(self, combo: QComboBox) -> None:
        if combo.currentData() == OPEN_IMAGE:
            spec = self.choose_image()
            if spec is None:
                self.set_outfits(self._outfits)  # back to what is worn
                return
            self._select(combo, spec)
        outfits = self._read()
        if outfits != self._outfits:
            self._outfits = outfits
            self.changed.emit(outfits)

    def choose_image(self) -> str | None:
        """Ask for an image and where it goes: its garment spec, or None if cancelled."""
        suffixes = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(
            self, "Garment image", self.last_folder, f"Images ({suffixes});;All files (*)"
        )
        if not path:
            return None
        self.last_folder = str(Path(path).parent)
        choices = [ATLAS_CHOICE, *sorted(REGIONS)]
        where, ok = QInputDialog.getItem(
            self, "Garment image", f"Put {Path(path).name} on:", choices, 0, False
        )
        if not ok:
            return None
        return path if where == ATLAS_CHOICE else f"{path}@{where}"
