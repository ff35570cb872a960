"""The keypoint models compared by PCK, behind one interface: crops in, COCO-17 out.

``predict(crops (B, S, S, 3) uint8 RGB) -> (B, 17, 3)``: x, y in crop pixels (pixel centres),
score. Both see exactly the same crop region, resampled to their own input size.
``predict_with_masks`` (``SilhouetteModel``) also returns each crop's person mask from the same
pass, for silhouette IoU: MeshPose's rasterised high-poly mesh, BlazePose's segmentation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from meshpose_core.data.real.joints import BLAZEPOSE_TO_COCO, map_to_coco
from meshpose_core.data.real.teacher import NUM_BODY, BlazePoseLandmarker, TeacherConfig
from meshpose_core.topology import Topology

from .silhouette import mesh_silhouette

if TYPE_CHECKING:
    from meshpose_core.predictor import Prediction


class KeypointModel(Protocol):
    name: str
    input_size: int

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """crops (B, S, S, 3) uint8 RGB, S = ``input_size`` -> (B, 17, 3) COCO x, y crop px,
        score."""
        ...


@runtime_checkable
class SilhouetteModel(KeypointModel, Protocol):
    """A keypoint model that also segments: keypoints and masks from one run, so scoring
    silhouettes costs no second forward pass."""

    def predict_with_masks(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """crops (B, S, S, 3) -> (keypoints as ``predict``, masks (B, S, S) bool, crop px)."""
        ...


class BlazePoseKeypoints:
    """BlazePose landmarks (one pass on the given crop, heatmap-refined as in MediaPipe);
    score = min(visibility, presence); mask = its segmentation output > 0.5 (not per person:
    it covers anyone in the crop)."""

    input_size = 256

    def __init__(
        self, model_path: Path | str, name: str = "BlazePose-heavy", threads: int = 2
    ) -> None:
        self.name = name
        self.landmarker = BlazePoseLandmarker(
            TeacherConfig(model_path=model_path, num_threads=threads)
        )

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """crops (B, S, S, 3) uint8 RGB -> (B, 17, 3) COCO x, y crop px, score."""
        return self.predict_with_masks(crops)[0]

    def predict_with_masks(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """crops (B, S, S, 3) -> (keypoints (B, 17, 3) as ``predict``, segmentation masks
        (B, S, S) bool)."""
        out = np.zeros((len(crops), 17, 3))
        masks = np.zeros((len(crops), self.input_size, self.input_size), bool)
        for i, crop in enumerate(crops):
            landmarks, _, mask = self.landmarker.run_crop(crop)  # mask: (256, 256) = the crop
            body = landmarks[:NUM_BODY]
            xy_score = np.concatenate(
                [body[:, :2] - 0.5, np.minimum(body[:, 3], body[:, 4])[:, None]], axis=1
            )
            out[i] = map_to_coco(xy_score, BLAZEPOSE_TO_COCO)[0]
            masks[i] = mask > 0.5
        return out, masks


class MeshPoseKeypoints:
    """A MeshPose checkpoint's COCO keypoints (regressed from its mesh); mask = its high-poly
    mesh rasterised in the crop (the whole body, parts hidden behind things included)."""

    def __init__(
        self,
        checkpoint: Path | str,
        name: str = "MeshPose",
        device: str = "cpu",
        on_prediction: Callable[[Prediction], None] | None = None,
    ) -> None:
        """``on_prediction`` sees every raw prediction (e.g. to score the meshes too)."""
        from meshpose_core.predictor import MeshPose

        self.name = name
        self.model = MeshPose.from_pretrained(checkpoint, device=device)
        self.input_size = int(self.model.input_size[0])
        self.on_prediction = on_prediction

    def _predict(self, crops: np.ndarray) -> Prediction:
        pred = self.model.predict(crops)
        if self.on_prediction is not None:
            self.on_prediction(pred)
        return pred

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """crops (B, S, S, 3) uint8 RGB -> (B, 17, 3) float64 COCO x, y crop px, score."""
        return self._predict(crops).keypoints.astype(np.float64)

    def predict_with_masks(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """crops (B, S, S, 3) -> (keypoints (B, 17, 3) as ``predict``, masks (B, S, S) bool:
        the rasterised high-poly meshes)."""
        pred = self._predict(crops)
        faces = Topology.load("high").faces  # cached; the faces of ``vertices_high``
        masks = np.stack([mesh_silhouette(v, faces, self.input_size) for v in pred.vertices_high])
        return pred.keypoints.astype(np.float64), masks
