"""What every backend shares: the ``Predictor`` protocol, its outputs and the ``finish`` step
(upsampling and keypoints), so that swapping backends changes nothing downstream."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from meshpose_core.model.heads import FEATURE_STRIDE
from meshpose_core.model.upsampler import LearnedUpsampler
from meshpose_core.topology import NUM_COCO, Topology
from meshpose_core.topology.combine import RowCombination
from meshpose_core.topology.integrity import mend_legs
from meshpose_core.topology.outline import OutlineWidening


@dataclass(frozen=True)
class Prediction:
    """Per crop, in crop pixels (top-left pixel centre = (0, 0)); z is depth relative to the
    root in pixels (larger = farther).

    vertices (B, 518, 3), visibility (B, 518) in [0, 1], vertices_high (B, 6890, 3),
    keypoints (B, 17, 3) COCO order as (x, y, score), iuv (B, 3, h, w) float (I 0..24, U, V)
    at the score-map resolution or None, foreground (B, h, w) in [0, 1]: the person's mask on
    the score-map cells (``FEATURE_STRIDE`` crop px each), or None from a backend without it.
    """

    vertices: np.ndarray
    visibility: np.ndarray
    vertices_high: np.ndarray
    keypoints: np.ndarray
    iuv: np.ndarray | None = None
    foreground: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.vertices)


@dataclass(frozen=True)
class RawPrediction:
    """The network's own output before upsampling: vertices (B, 518, 3), visibility (B, 518),
    iuv (B, 3, h, w) or None, foreground (B, h, w) or None (see ``Prediction``)."""

    vertices: np.ndarray
    visibility: np.ndarray
    iuv: np.ndarray | None = None
    foreground: np.ndarray | None = None


def crop_pixels(crops: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """(B, H, W, 3) uint8 RGB crops -> (B, H, W, 3) float32 pixels 0..255, what the exported
    graphs take: they normalise in the graph, a few µs there against ~0.4 ms in numpy or
    torch before each call."""
    if crops.ndim != 4 or crops.shape[-1] != 3 or crops.dtype != np.uint8:
        raise ValueError(f"crops must be (B, H, W, 3) uint8 RGB, got {crops.shape} {crops.dtype}")
    if tuple(crops.shape[1:3]) != tuple(input_size):
        raise ValueError(f"crops are {crops.shape[1:3]}, the model takes {tuple(input_size)}")
    return crops.astype(np.float32)


class Finisher:
    """Low-poly vertices + visibility -> Prediction (learned upsampling, COCO keypoints).

    ``outline_scales`` (the checkpoint's ``MeshPoseConfig.outline_scales``; () for none)
    widen the body to the person's outline (``topology.outline``) before upsampling: fitted to
    each person's foreground where the backend gives one, else these fixed scales; the
    keypoints come from the body, so widening never moves them.
    """

    def __init__(self, outline_scales: Sequence[float] = ()) -> None:
        self.topology = Topology.load("low")
        self.outline = OutlineWidening(outline_scales, self.topology) if outline_scales else None
        self.upsampler = LearnedUpsampler.from_pretrained()
        self._stages = [RowCombination(i, w) for i, w in self.upsampler.stage_arrays()]
        self._lm_index = self.topology.landmark_index[:NUM_COCO]
        self._lm_weight = self.topology.landmark_weight[:NUM_COCO]

    def upsample(self, vertices: np.ndarray) -> np.ndarray:
        """(B, 518, D) -> (B, 6890, D) float32 through the learned stages."""
        out = np.asarray(vertices, np.float32)
        for stage in self._stages:
            out = stage(out)
        return np.ascontiguousarray(out)

    def __call__(self, raw: RawPrediction) -> Prediction:
        vertices, visibility, iuv = raw.vertices, raw.visibility, raw.iuv
        xy = np.einsum("ks,bksd->bkd", self._lm_weight, vertices[:, self._lm_index, :2])
        # lower legs and feet the crop did not show, redrawn from the knee or the ankle
        # (after the keypoints: those stay where the heatmaps put them)
        vertices = mend_legs(vertices)
        if self.outline is not None:
            vertices = self.outline(vertices, raw.foreground, FEATURE_STRIDE)
        high = self.upsample(vertices)
        score = np.einsum("ks,bks->bk", self._lm_weight, visibility[:, self._lm_index])
        return Prediction(
            vertices=vertices.astype(np.float32),
            visibility=visibility.astype(np.float32),
            vertices_high=high.astype(np.float32),
            keypoints=np.concatenate([xy, score[..., None]], axis=-1).astype(np.float32),
            iuv=None if iuv is None else iuv.astype(np.float32),
            foreground=raw.foreground,
        )


class Predictor(Protocol):
    """Crops in, meshes out, whatever runs the network. ``infer`` (the network and its
    decoding) and ``finish`` (upsampling, keypoints) are apart so that callers can time
    them; ``predict`` is both. Backends subclass this to inherit ``predict``."""

    backend: ClassVar[str]  # "torch", "onnx" or "litert"
    input_size: tuple[int, int]  # (H, W) of the crops it takes
    finish: Finisher

    @property
    def device_name(self) -> str:
        """Where the network runs ("cpu", "cuda:0")."""
        return "cpu"

    def infer(self, crops: np.ndarray, want_iuv: bool = False) -> RawPrediction:
        """crops (B, H, W, 3) uint8 RGB at ``input_size`` -> the network's vertices,
        visibility and (want_iuv, where the backend has it) IUV."""
        ...

    def predict(self, crops: np.ndarray, want_iuv: bool = False) -> Prediction:
        """crops (B, H, W, 3) uint8 RGB at ``input_size`` -> Prediction (batched)."""
        return self.finish(self.infer(crops, want_iuv))
