"""The keypoint models compared by PCK, behind one interface: crops in, COCO-17 out.

``predict(crops (B, S, S, 3) uint8 RGB) -> (B, 17, 3)``: x, y in crop pixels (pixel centres),
score. Both see exactly the same crop region, resampled to their own input size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from meshpose_core.data.real.joints import BLAZEPOSE_TO_COCO, map_to_coco
from meshpose_core.data.real.teacher import NUM_BODY, BlazePoseLandmarker, TeacherConfig


class KeypointModel(Protocol):
    name: str
    input_size: int

    def predict(self, crops: np.ndarray) -> np.ndarray: ...


class BlazePoseKeypoints:
    """BlazePose landmarks (one pass on the given crop, heatmap-refined as in MediaPipe);
    score = min(visibility, presence)."""

    input_size = 256

    def __init__(
        self, model_path: Path | str, name: str = "BlazePose-heavy", threads: int = 2
    ) -> None:
        self.name = name
        self.landmarker = BlazePoseLandmarker(
            TeacherConfig(model_path=model_path, num_threads=threads)
        )

    def predict(self, crops: np.ndarray) -> np.ndarray:
        out = np.zeros((len(crops), 17, 3))
        for i, crop in enumerate(crops):
            landmarks, _, _ = self.landmarker.run_crop(crop)
            body = landmarks[:NUM_BODY]
            xy_score = np.concatenate(
                [body[:, :2] - 0.5, np.minimum(body[:, 3], body[:, 4])[:, None]], axis=1
            )
            out[i] = map_to_coco(xy_score, BLAZEPOSE_TO_COCO)[0]
        return out


class MeshPoseKeypoints:
    """A MeshPose checkpoint's COCO keypoints (regressed from its mesh)."""

    def __init__(self, checkpoint: Path | str, name: str = "MeshPose", device: str = "cpu") -> None:
        from meshpose_core.predictor import MeshPose

        self.name = name
        self.model = MeshPose.from_pretrained(checkpoint, device=device)
        self.input_size = int(self.model.input_size[0])

    def predict(self, crops: np.ndarray) -> np.ndarray:
        return self.model.predict(crops).keypoints.astype(np.float64)
