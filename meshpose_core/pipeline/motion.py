"""Motion outside the tracked people: whether a scheduled detector run can find anyone new.

Between detector runs the meshes steer the tracked people's boxes; the scheduled runs
(``TrackerConfig.detect_every``) exist to find newcomers. A newcomer changes the picture
where nobody is tracked, so when a small grey thumbnail of the frame is unchanged there
since the detector last looked, the run would only find the people already tracked and is
skipped. The gate only postpones the schedule, at most ``max_skips`` runs in a row (so a
person who stood still through an earlier run is still found within a few seconds); a lost
or uncertain track runs the detector at once whatever the gate says. A moving camera
changes every cell, and the schedule runs as without the gate.

Thumbnail: the frame in grey, averaged over square cells of ~1/80 of its long side (the
average removes sensor noise: a cell changes by more than ``threshold`` grey levels only
when something moved or the light changed, and both wake the detector).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MotionGateConfig:
    enabled: bool = True
    cells: int = 80  # thumbnail cells along the frame's long side
    threshold: float = 12.0  # mean grey-level change of a cell that counts as motion
    min_cells: int = 3  # changed cells outside the tracked people that wake the detector
    box_margin: float = 1.5  # tracked region around a box: its size times this
    max_skips: int = 3  # scheduled runs skipped in a row at most (2 s at 15 frames, 30 fps)


def thumbnail(image: np.ndarray, cell: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB or (H, W) grey -> (H // cell, W // cell) float32 cell means of
    the grey image (the remainder rows and columns are left out: an integer factor keeps
    OpenCV's area averaging on its fast path)."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape[0] // cell, grey.shape[1] // cell
    if cell == 1:
        return grey.astype(np.float32)
    cropped = grey[: h * cell, : w * cell]
    return cv2.resize(cropped, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)


def tracked_mask(
    shape: tuple[int, int], boxes: Sequence[np.ndarray], cell: int, margin: float
) -> np.ndarray:
    """(h, w) thumbnail shape, boxes each (4,) x0, y0, x1, y1 image px -> (h, w) bool, True
    outside every box enlarged ``margin`` times about its centre."""
    free = np.ones(shape, bool)
    for box in boxes:
        x0, y0, x1, y1 = (float(v) for v in box)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        hw, hh = (x1 - x0) * margin / 2, (y1 - y0) * margin / 2
        c0, c1 = math.floor((cx - hw) / cell), math.ceil((cx + hw) / cell)
        r0, r1 = math.floor((cy - hh) / cell), math.ceil((cy + hh) / cell)
        free[max(r0, 0) : max(r1, 0), max(c0, 0) : max(c1, 0)] = False
    return free


class MotionGate:
    """``remember(frame)`` at every detector run; ``allows_skip(frame, boxes)`` when a
    scheduled run is due: True when it can be skipped (counted against ``max_skips``)."""

    def __init__(self, config: MotionGateConfig | None = None) -> None:
        self.config = config or MotionGateConfig()
        if self.config.cells < 1 or self.config.max_skips < 0:
            raise ValueError("MotionGateConfig: cells must be >= 1 and max_skips >= 0")
        self.reset()

    def reset(self) -> None:
        """Forget the reference picture (a new, unrelated input)."""
        self._reference: np.ndarray | None = None
        self._cell = 1
        self._skips = 0

    def remember(self, image: np.ndarray) -> None:
        """The detector looked at ``image`` (H, W, 3) uint8: later frames are compared with
        it."""
        if not self.config.enabled:
            return
        # at most the short side: a thin strip (2000 x 20) keeps one row of cells
        self._cell = max(1, min(max(image.shape[:2]) // self.config.cells, min(image.shape[:2])))
        self._reference = thumbnail(image, self._cell)
        self._skips = 0

    def allows_skip(self, image: np.ndarray, boxes: Sequence[np.ndarray]) -> bool:
        """Whether nothing moved in ``image`` (H, W, 3) uint8 outside the tracked ``boxes`` (each
        (4,) x0, y0, x1, y1 image px) since the remembered frame, with skips left; a True answer
        counts as a skip."""
        cfg = self.config
        if not cfg.enabled or self._reference is None or self._skips >= cfg.max_skips:
            return False
        current = thumbnail(image, self._cell)
        if current.shape != self._reference.shape:  # another frame size: another input
            return False
        free = tracked_mask(current.shape, boxes, self._cell, cfg.box_margin)
        changed = np.abs(current - self._reference) > cfg.threshold
        if int(np.count_nonzero(changed & free)) >= cfg.min_cells:
            return False
        self._skips += 1
        return True
