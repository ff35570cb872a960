"""MediaPipe BlazePose landmark model as a teacher: 2D joints and a person mask per crop.

The heavy model (``pose_landmark_heavy.tflite``, Apache-2.0, in ``../shared/models/blazepose``)
runs through LiteRT on a 256x256 crop of a rotated ROI, as MediaPipe does: RGB in [0, 1];
outputs 39 landmarks x (x, y, z, visibility logit, presence logit) in crop pixels (33 body
points, then 2 ROI alignment points: hip centre, full-body scale point), a pose flag (already a
probability), a 256x256 segmentation logit map and 64x64x39 heatmaps. As in MediaPipe, x, y are
refined by the heatmap around each landmark (MediaPipe's RefineLandmarksFromHeatmapCalculator).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from meshpose_core.detection import RotatedRoi, roi_from_keypoints

from .crop import crop_to_image_points, warp_crop
from .joints import BLAZEPOSE_TO_COCO, map_to_coco
from .paths import DEFAULT_SHARED_ROOT

if TYPE_CHECKING:
    from ai_edge_litert.interpreter import Interpreter

INPUT_SIZE = 256
NUM_LANDMARKS = 39
NUM_BODY = 33
HIP_CENTRE, SCALE_POINT = 33, 34  # alignment points: the next frame's ROI, as in tracking
DEFAULT_HEAVY_PATH = DEFAULT_SHARED_ROOT / "models" / "blazepose" / "pose_landmark_heavy.tflite"


@dataclass(frozen=True)
class TeacherConfig:
    """model_path: any BlazePose landmark .tflite (lite/full/heavy share the interface);
    refine_passes: extra runs on the ROI the landmarks themselves give (MediaPipe's tracking
    ROI), which re-centres and re-scales a rough detector or box crop."""

    model_path: Path | str = DEFAULT_HEAVY_PATH
    num_threads: int = 2
    refine_passes: int = 1
    heatmap_kernel: int = 7
    heatmap_min_confidence: float = 0.5
    heatmap_cell_offset: float = 0.0  # MediaPipe places heatmap cell c at c / 64 (its corner)
    roi_enlarge: float = 1.25


@dataclass(frozen=True, eq=False)
class TeacherOutput:
    """One person. landmarks (39, 5): x, y in image pixels (pixel centres), z in crop pixels,
    visibility and presence probabilities; pose_score: the model's person-present flag;
    mask (256, 256) float32 person probability over the crop of ``roi``."""

    roi: RotatedRoi
    landmarks: np.ndarray
    pose_score: float
    mask: np.ndarray

    def coco(self) -> np.ndarray:
        """(17, 4) COCO joints: x, y (image pixel centres), visibility, presence."""
        values = self.landmarks[:NUM_BODY][:, [0, 1, 3, 4]]
        return map_to_coco(values, BLAZEPOSE_TO_COCO)[0]

    def next_roi(self, enlarge: float = 1.25) -> RotatedRoi:
        """MediaPipe's tracking ROI from the alignment landmarks (continuous coordinates)."""
        lm = self.landmarks[:, :2] + 0.5
        return roi_from_keypoints(lm[HIP_CENTRE], lm[SCALE_POINT], enlarge=enlarge)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic of any shape, clipped so that large logits do not overflow."""
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def refine_with_heatmap(
    xy: np.ndarray,
    heatmap: np.ndarray,
    kernel: int = 7,
    min_confidence: float = 0.5,
    cell_offset: float = 0.0,
) -> np.ndarray:
    """Landmarks (K, 2) in continuous crop px of a size^2 crop, heatmap logits (h, w, K) ->
    (K, 2) refined: the sigmoid-weighted mean of the kernel^2 cells around each landmark, kept
    where the window's peak confidence reaches ``min_confidence`` (else unchanged). Cell c
    sits at (c + cell_offset) * size / w."""
    h, w, _ = heatmap.shape
    size = INPUT_SIZE
    out = xy.astype(np.float64).copy()
    half = (kernel - 1) // 2
    for k, (x, y) in enumerate(xy):
        col, row = int(np.floor(x / size * w)), int(np.floor(y / size * h))
        if not (0 <= col < w and 0 <= row < h):
            continue
        r0, r1 = max(0, row - half), min(h, row + half + 1)
        c0, c1 = max(0, col - half), min(w, col + half + 1)
        conf = sigmoid(heatmap[r0:r1, c0:c1, k].astype(np.float64))
        total = conf.sum()
        if conf.max() < min_confidence or total <= 0:
            continue
        rows, cols = np.mgrid[r0:r1, c0:c1]
        out[k] = [
            ((cols + cell_offset) * conf).sum() / total * size / w,
            ((rows + cell_offset) * conf).sum() / total * size / h,
        ]
    return out


def decode_landmarks(raw: np.ndarray, heatmap: np.ndarray | None, cfg: TeacherConfig) -> np.ndarray:
    """(195,) raw output (+ optional (64, 64, 39) heatmap) -> (39, 5): x, y continuous crop
    px, z, visibility and presence as probabilities."""
    lm = raw.reshape(NUM_LANDMARKS, 5).astype(np.float64).copy()
    if heatmap is not None:
        lm[:, :2] = refine_with_heatmap(
            lm[:, :2],
            heatmap,
            cfg.heatmap_kernel,
            cfg.heatmap_min_confidence,
            cfg.heatmap_cell_offset,
        )
    lm[:, 3:] = sigmoid(lm[:, 3:])
    return lm


class BlazePoseLandmarker:
    """``landmarker(image, roi) -> TeacherOutput``; one LiteRT interpreter, one per thread."""

    def __init__(self, config: TeacherConfig | None = None) -> None:
        self.config = config or TeacherConfig()
        self._interpreter = _load_interpreter(Path(self.config.model_path), self.config.num_threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        by_shape = {
            tuple(d["shape"][1:]): d["index"] for d in self._interpreter.get_output_details()
        }
        self._landmarks = by_shape[(NUM_LANDMARKS * 5,)]
        self._flag = by_shape[(1,)]
        self._mask = by_shape[(INPUT_SIZE, INPUT_SIZE, 1)]
        self._heatmap = by_shape[(64, 64, NUM_LANDMARKS)]

    def run_crop(self, crop: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """(256, 256, 3) uint8 RGB -> landmarks (39, 5) continuous crop px, pose score,
        mask probability (256, 256)."""
        self._interpreter.set_tensor(self._input, (crop.astype(np.float32) / 255.0)[None])
        self._interpreter.invoke()
        get = self._interpreter.get_tensor
        landmarks = decode_landmarks(get(self._landmarks)[0], get(self._heatmap)[0], self.config)
        mask = sigmoid(get(self._mask)[0, :, :, 0]).astype(np.float32)
        return landmarks, float(get(self._flag).reshape(-1)[0]), mask

    def __call__(self, image: np.ndarray, roi: RotatedRoi) -> TeacherOutput:
        """(H, W, 3) uint8 RGB frame and a person ROI -> landmarks in image pixels, after
        ``refine_passes`` re-runs on the landmarks' own ROI."""
        out = self._once(image, roi)
        for _ in range(self.config.refine_passes):
            out = self._once(image, out.next_roi(self.config.roi_enlarge))
        return out

    def _once(self, image: np.ndarray, roi: RotatedRoi) -> TeacherOutput:
        landmarks, score, mask = self.run_crop(warp_crop(image, roi, INPUT_SIZE))
        landmarks[:, :2] = crop_to_image_points(roi, INPUT_SIZE, landmarks[:, :2] - 0.5)
        return TeacherOutput(roi=roi, landmarks=landmarks, pose_score=score, mask=mask)


class TeacherError(RuntimeError):
    """The landmark model is missing, unreadable or not a BlazePose landmark model."""


def _load_interpreter(path: Path, num_threads: int) -> Interpreter:
    from ai_edge_litert.interpreter import Interpreter

    if not path.is_file():
        raise TeacherError(
            f"BlazePose landmark model not found: {path} (the heavy model lives in "
            f"../shared/models/blazepose; pass its path)"
        )
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise TeacherError(f"landmark model {path} is unreadable: {exc}") from exc
    shapes = {tuple(d["shape"][1:]) for d in interpreter.get_output_details()}
    inputs = [tuple(d["shape"]) for d in interpreter.get_input_details()]
    if inputs != [(1, INPUT_SIZE, INPUT_SIZE, 3)] or (NUM_LANDMARKS * 5,) not in shapes:
        raise TeacherError(f"{path} is not a BlazePose landmark model (inputs {inputs})")
    return interpreter
