"""The person detector a recorded video or a picture gets by default: chosen by what it shows.

YOLOX finds every person, any pose, from any side, and files get it. But a file can hold
what a webcam shows: a selfie clip or a phone video of someone from the chest up. YOLOX
boxes that upper body, the crop is the size of the upper body, and the network folds a whole
body into it (crumpled meshes over the face, docs/pipeline.md); BlazePose's detector gives
the whole body's scale even where it is out of the frame, and the crop holds the whole,
partly unseen body. So on the first frame in which YOLOX finds someone sure (score at least
``CLOSE_UP_SCORE``), BlazePose's detector looks too, and the stream keeps BlazePose's when
the picture is a close-up (``is_close_up``), YOLOX's otherwise, until ``reset``.

Measured on the first frames of 59 clips of ``../shared`` (train/videos, media/videos, the
sample clip): BlazePose's whole-body box reaches 1.9-4.0 frame heights down on the 13
selfie, webcam and phone close-ups (webcam clips, TikTok dances, a baby reading, a laptop
seen from above) and at most 1.56 on every other clip, full bodies filling the frame
(catwalks: 0.90-0.92) and seated people cut at the knees (a ukulele duo: 1.56) included;
the rule gives 12 of those 13 BlazePose's detector (a laptop seen from above keeps YOLOX's)
and none of the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .blazepose_detector import BlazePoseDetector, Detection
from .yolox import YoloxDetector

# a close-up: at most this many sure people, the largest at least this tall (frame heights)
# and cut by the frame's bottom, and BlazePose's whole-body box of them reaching at least
# ``CLOSE_UP_REACH`` frame heights down
CLOSE_UP_PEOPLE = 2
CLOSE_UP_SCORE = 0.4  # a sure YOLOX person: its best-F1 score, the tracker's confident_score
CLOSE_UP_HEIGHT = 0.75
CLOSE_UP_BOTTOM = 0.95
CLOSE_UP_REACH = 1.75


def is_close_up(people: np.ndarray, bodies: np.ndarray, hips: np.ndarray, height: int) -> bool:
    """Whether a frame shows a close-up whose body continues well below it.

    Args:
        people: (N, 4) YOLOX person boxes x0, y0, x1, y1 px of the sure detections.
        bodies: (M, 4) BlazePose's whole-body boxes (its ROI's square) px; hips: (M, 2)
            their hip points.
        height: the frame's height px.
    """
    people = np.asarray(people, float).reshape(-1, 4)
    if not 0 < len(people) <= CLOSE_UP_PEOPLE:
        return False
    x0, y0, x1, y1 = people[np.argmax(people[:, 3] - people[:, 1])]
    if y1 - y0 < CLOSE_UP_HEIGHT * height or y1 < CLOSE_UP_BOTTOM * height:
        return False
    bodies, hips = np.asarray(bodies, float).reshape(-1, 4), np.asarray(hips, float).reshape(-1, 2)
    inside = (hips[:, 0] >= x0) & (hips[:, 0] <= x1)  # below the frame: x alone tells
    return bool((bodies[inside, 3] >= CLOSE_UP_REACH * height).any())


class AutoPersonDetector:
    """YOLOX's or BlazePose's detections, the choice made once per stream (``chosen``:
    None until a frame with a sure person decided it). Like the detectors it wraps, one
    per thread."""

    def __init__(self, yolox: YoloxDetector, blazepose: BlazePoseDetector) -> None:
        self.yolox, self.blazepose = yolox, blazepose
        self.chosen: str | None = None

    def detect(self, image: np.ndarray) -> list[Detection]:
        """People in ``image`` (H, W, 3) uint8 RGB, by the detector this stream uses."""
        if self.chosen == "blazepose":
            return self.blazepose.detect(image)
        found = self.yolox.detect(image)
        if self.chosen is None:
            sure = [d.person_box for d in found if d.score >= CLOSE_UP_SCORE]
            if sure:
                bodies = self.blazepose.detect(image)
                close = is_close_up(np.array(sure), _boxes(bodies), _hips(bodies), image.shape[0])
                self.chosen = "blazepose" if close else "yolox"
                if close:
                    return bodies
        return found

    def reset(self) -> None:
        """An unrelated input follows: choose again."""
        self.chosen = None


def _boxes(detections: Sequence[Detection]) -> np.ndarray:
    return np.array([d.box for d in detections], float).reshape(-1, 4)


def _hips(detections: Sequence[Detection]) -> np.ndarray:
    return np.array([d.centre() for d in detections], float).reshape(-1, 2)
