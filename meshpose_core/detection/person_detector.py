"""Which person detector finds people: one name, one config each, one constructor.

``yolox`` (default): YOLOX-Nano boxes every visible person, any pose, seen from any side.
``blazepose``: MediaPipe's SSD, anchored on the face and upper body; it gives hip and scale
points (a tilted first crop) and suits a single person close to the camera. Figures that
chose the default: docs/pipeline.md ("Person detectors").
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .blazepose_detector import BlazePoseDetector, Detection, DetectorConfig
from .yolox import YoloxConfig, YoloxDetector

PERSON_DETECTORS: tuple[str, ...] = ("yolox", "blazepose")
DEFAULT_PERSON_DETECTOR = "yolox"


class PersonDetector(Protocol):
    def detect(self, image: np.ndarray) -> list[Detection]:
        """People in ``image`` (H, W, 3) uint8 RGB."""
        ...


def create_person_detector(
    name: str, blazepose: DetectorConfig | None = None, yolox: YoloxConfig | None = None
) -> PersonDetector:
    """The detector called ``name`` (one of ``PERSON_DETECTORS``) with its config."""
    if name == "yolox":
        return YoloxDetector(yolox)
    if name == "blazepose":
        return BlazePoseDetector(blazepose)
    raise ValueError(f"unknown person detector {name!r}; choose one of {PERSON_DETECTORS}")
