"""Which person detector finds people: one name, one config each, one constructor.

``yolox``: YOLOX-Nano boxes every visible person, any pose, seen from any side.
``blazepose``: MediaPipe's SSD, anchored on the face and upper body; it gives hip and scale
points (a tilted first crop) and suits a single person close to the camera.
``auto`` (default): per stream, BlazePose's for a close-up whose body continues below the
frame, YOLOX's otherwise (``auto_detector``). Figures that chose them: docs/pipeline.md
("Person detectors").
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

import numpy as np

from .auto_detector import AutoPersonDetector
from .blazepose_detector import BlazePoseDetector, Detection, DetectorConfig
from .yolox import YoloxConfig, YoloxDetector

PERSON_DETECTORS: tuple[str, ...] = ("yolox", "blazepose")
# the one the picture calls for (``auto_detector.AutoPersonDetector``: BlazePose's for a
# close-up, YOLOX's otherwise); the apps give a live camera BlazePose's outright
AUTO_DETECTOR = "auto"
DEFAULT_PERSON_DETECTOR = AUTO_DETECTOR


def resolve_person_detector(name: str, live: bool) -> str:
    """``name`` (one of ``PERSON_DETECTORS`` or ``AUTO_DETECTOR``) -> the detector to run.

    "auto" picks BlazePose's for a live camera: a webcam shows a person from the chest or
    the waist up, and YOLOX's box of that upper body gives a crop the size of the upper
    body, in which the network has to fold the whole body (crumpled meshes over the face on
    four webcam clips, 3-7 track ids in 150 frames); BlazePose's detector gives the hips
    and a whole-body scale even when they are out of the frame, so the crop holds the
    whole (partly unseen) body (upper-body meshes, 1-3 ids). Files and pictures stay
    "auto": the picture chooses (``auto_detector``). Figures: docs/pipeline.md."""
    if name == AUTO_DETECTOR:
        return "blazepose" if live else AUTO_DETECTOR
    if name not in PERSON_DETECTORS:
        raise _unknown(name)
    return name


class PersonDetector(Protocol):
    def detect(self, image: np.ndarray) -> list[Detection]:
        """People in ``image`` (H, W, 3) uint8 RGB."""
        ...


def create_person_detector(
    name: str, blazepose: DetectorConfig | None = None, yolox: YoloxConfig | None = None
) -> PersonDetector:
    """The detector called ``name`` (one of ``PERSON_DETECTORS`` or ``AUTO_DETECTOR``)
    with its config."""
    if name == AUTO_DETECTOR:
        # BlazePose's only for a close-up, which fills the frame: its extra windows (smaller
        # people of a wide frame) found the same person again, a second mesh on them
        # (make-up and baby close-ups: 50 and 59 such frames against 0 and 8)
        close_up = replace(blazepose or DetectorConfig(), windows=0)
        return AutoPersonDetector(YoloxDetector(yolox), BlazePoseDetector(close_up))
    if name == "yolox":
        return YoloxDetector(yolox)
    if name == "blazepose":
        return BlazePoseDetector(blazepose)
    raise _unknown(name)


def _unknown(name: str) -> ValueError:
    return ValueError(
        f"unknown person detector {name!r}; choose one of {(AUTO_DETECTOR, *PERSON_DETECTORS)}"
    )
