"""Multi-person detector: MediaPipe's BlazePose SSD (``pose_detection.tflite``) via LiteRT.

The SSD is anchored on the head: its box has a constant size (0.2 of the model input) around
the head region, so only its centre carries information, and MediaPipe suppresses duplicates
on it, which keeps neighbours in a crowd apart. The person itself is given by keypoint 0 (hip
midpoint) and keypoint 1 (full-body scale point), whose distance is the radius of a circle
around the whole body. ``Detection.box`` is that circle's bounding box; ``Detection.roi()``
the rotated crop the landmark stage expects.

At 224x224 the letterboxed frame leaves non-dominant people small, and the SSD misses many of
them, so by default it also runs on square windows of the frame (see ``windows.py``); all
hits are merged by one weighted NMS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from meshpose_core.resources import asset_path

from .anchors import pose_detector_anchors
from .decode import decode_regressors, sigmoid_scores
from .letterbox import letterbox
from .nms import weighted_nms
from .roi import RotatedRoi, roi_from_keypoints
from .windows import detection_windows

if TYPE_CHECKING:
    from ai_edge_litert.interpreter import Interpreter

ASSET_DIR = asset_path("blazepose")
DEFAULT_DETECTOR_PATH = ASSET_DIR / "pose_detection.tflite"

INPUT_SIZE = 224
NUM_KEYPOINTS = 4
# The SSD's box is a constant 0.2 of its input side (44.75 of 224 px): only its centre is
# informative. Windows of different scales are compared at the finest one's box size.
HEAD_BOX_FRACTION = 0.2
KEYPOINT_NAMES: tuple[str, ...] = (
    "hip_center",
    "full_body_scale",
    "shoulder_center",
    "upper_body_scale",
)


class DetectorError(RuntimeError):
    """The detector model is missing, unreadable or not the expected BlazePose SSD."""


@dataclass(frozen=True)
class DetectorConfig:
    """Run-time options. Thresholds are MediaPipe's pose detection graph's; ``windows`` is ours
    (0 reproduces MediaPipe: one whole-frame pass, about 3x faster, finds fewer people)."""

    model_path: Path | str = DEFAULT_DETECTOR_PATH
    num_threads: int = 2
    score_threshold: float = 0.5
    nms_iou_threshold: float = 0.3
    max_detections: int | None = None
    windows: int = 2  # extra square windows along the long side (0: whole frame only)
    score_clip: float = 100.0
    roi_enlarge: float = 1.25


@dataclass(frozen=True, eq=False)  # array fields: no element-wise __eq__
class Detection:
    """One person, in frame pixels (continuous: the frame spans [0, W] x [0, H]).

    ``box`` (x0, y0, x1, y1) is what the tracker follows, a square around the whole body that
    may extend past the frame. BlazePose's SSD: the bounding box of the full-body circle (hip
    centre, radius to the scale point), ``keypoints`` (4, 2) following ``KEYPOINT_NAMES`` and
    ``head_box`` the SSD's box (fixed size, near the head) that duplicates were suppressed on.
    A box detector (YOLOX): ``person_box`` the tight box around the visible person,
    ``box`` that box squared and enlarged like a mesh box, no keypoints.
    """

    box: np.ndarray
    score: float
    keypoints: np.ndarray | None = None
    head_box: np.ndarray | None = field(default=None, repr=False)
    roi_enlarge: float = field(default=1.25, repr=False)
    person_box: np.ndarray | None = field(default=None, repr=False)

    def roi(self) -> RotatedRoi:
        """The full-body crop: with keypoints MediaPipe's (centred on the hips, square, person
        turned upright), else an upright square of ``box`` times ``roi_enlarge``."""
        if self.keypoints is None:
            (x0, y0, x1, y1) = (float(v) for v in self.box)
            side = max(x1 - x0, y1 - y0) * self.roi_enlarge
            return RotatedRoi(center=((x0 + x1) / 2, (y0 + y1) / 2), size=side, rotation=0.0)
        return roi_from_keypoints(self.keypoints[0], self.keypoints[1], enlarge=self.roi_enlarge)

    def centre(self) -> np.ndarray:
        """(2,) the body's centre: the hip midpoint (keypoint 0) or the box centre."""
        if self.keypoints is not None:
            return np.asarray(self.keypoints[0], np.float64)
        return (np.asarray(self.box[:2], np.float64) + np.asarray(self.box[2:], np.float64)) / 2


def square_boxes(boxes: np.ndarray, side: float) -> np.ndarray:
    """(N, 4) boxes -> (N, 4) squares of the given side around the same centres."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    return np.concatenate([centre - side / 2, centre + side / 2], axis=-1)


def body_boxes(keypoints: np.ndarray) -> np.ndarray:
    """(M, K, 2) keypoints -> (M, 4) boxes bounding the circle at kp 0 through kp 1."""
    centre = keypoints[:, 0]
    radius = np.linalg.norm(keypoints[:, 1] - centre, axis=-1, keepdims=True)
    return np.concatenate([centre - radius, centre + radius], axis=-1)


def to_model_input(canvas: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8 RGB -> (1, S, S, 3) float32 in [-1, 1], the detector's training range."""
    return (canvas.astype(np.float32) * (2.0 / 255.0) - 1.0)[None]


def check_frame(image: np.ndarray) -> None:
    """One clear error for anything but an (H, W, 3) uint8 frame."""
    if not (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and min(image.shape[:2]) > 0
    ):
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image)
        raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {desc}")


class BlazePoseDetector:
    """Finds every person in an RGB frame; ``detect(frame) -> list[Detection]``, best first.

    Holds one LiteRT interpreter: use one detector per thread.
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._interpreter = _load_interpreter(Path(self.config.model_path), self.config.num_threads)
        self._input_index = self._interpreter.get_input_details()[0]["index"]
        outputs = {
            tuple(d["shape"][-1:]): d["index"] for d in self._interpreter.get_output_details()
        }
        self._regressor_index = outputs[(4 + 2 * NUM_KEYPOINTS,)]
        self._score_index = outputs[(1,)]
        self._anchors = pose_detector_anchors()

    def raw_outputs(self, model_input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(1, 224, 224, 3) float input -> regressors (2254, 12) and score logits (2254,)."""
        self._interpreter.set_tensor(self._input_index, model_input)
        self._interpreter.invoke()
        regressors = self._interpreter.get_tensor(self._regressor_index)[0]
        logits = self._interpreter.get_tensor(self._score_index)[0, :, 0]
        return regressors, logits

    def candidates(
        self, image: np.ndarray, window: tuple[int, int, int, int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Anchor hits above the score threshold in one window of the frame, before NMS.

        Returns head boxes (n, 4), keypoints (n, 4, 2), both in frame px, and scores (n,).
        """
        x0, y0, x1, y1 = window
        canvas, placement = letterbox(image[y0:y1, x0:x1], INPUT_SIZE)
        regressors, logits = self.raw_outputs(to_model_input(canvas))
        scores = sigmoid_scores(logits, self.config.score_clip)
        keep = scores >= self.config.score_threshold
        boxes, keypoints = decode_regressors(regressors[keep], self._anchors[keep], INPUT_SIZE)
        offset = np.array([x0, y0], dtype=np.float32)
        boxes = (placement.to_image(boxes.reshape(-1, 2, 2)) + offset).reshape(-1, 4)
        return boxes, placement.to_image(keypoints) + offset, scores[keep]

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detect people in an (H, W, 3) uint8 RGB frame."""
        check_frame(image)
        cfg = self.config
        windows = detection_windows(image.shape[0], image.shape[1], cfg.windows)
        per_window = [self.candidates(image, window) for window in windows]
        boxes, keypoints, scores = (np.concatenate(part) for part in zip(*per_window, strict=True))
        finest = min(max(x1 - x0, y1 - y0) for x0, y0, x1, y1 in windows)
        boxes = square_boxes(boxes, HEAD_BOX_FRACTION * finest)
        merged = weighted_nms(boxes, keypoints, scores, cfg.nms_iou_threshold, cfg.max_detections)
        return [
            Detection(
                box=box,
                score=float(score),
                keypoints=kps,
                head_box=head,
                roi_enlarge=cfg.roi_enlarge,
            )
            for box, score, kps, head in zip(
                body_boxes(merged.keypoints),
                merged.scores,
                merged.keypoints,
                merged.boxes,
                strict=True,
            )
        ]


def _load_interpreter(model_path: Path, num_threads: int) -> Interpreter:
    """Open and check a pose_detection.tflite; every failure becomes one ``DetectorError``."""
    # Imported here so that the pure-numpy parts (anchors, NMS, ROI) work without LiteRT.
    from ai_edge_litert.interpreter import Interpreter

    if not model_path.is_file():
        raise DetectorError(f"pose detector model not found: {model_path}")
    try:
        interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise DetectorError(f"pose detector model {model_path} is unreadable: {exc}") from exc
    inputs = [tuple(d["shape"]) for d in interpreter.get_input_details()]
    outputs = sorted(tuple(d["shape"]) for d in interpreter.get_output_details())
    expected_out = sorted([(1, 2254, 4 + 2 * NUM_KEYPOINTS), (1, 2254, 1)])
    if inputs != [(1, INPUT_SIZE, INPUT_SIZE, 3)] or outputs != expected_out:
        raise DetectorError(
            f"{model_path} is not the BlazePose pose detector: inputs {inputs}, outputs {outputs}"
        )
    return interpreter
