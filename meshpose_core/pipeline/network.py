"""The network stage: load the model once (``predictor.load_predictor``: backend choice),
predict a batch of crops.

``Network.predict`` times the network (``infer``) and the upsampling / keypoint step
(``finish``) separately, so the engine can show both latencies.
"""

from __future__ import annotations

import time

import numpy as np

from meshpose_core.model.checkpoint import DEFAULT_MODEL, file_sha256
from meshpose_core.predictor import Prediction
from meshpose_core.predictor.loading import (
    BACKENDS,
    DEVICES,
    ModelUnavailable,
    NetworkConfig,
    cache_dir,
    cached_onnx,
    load_predictor,
    model_path,
    pick_backend,
    tflite_for,
)

# re-exported: the CLI's and tools' names for the model and its backends
__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "DEVICES",
    "ModelUnavailable",
    "NetworkConfig",
    "cache_dir",
    "cached_onnx",
    "file_sha256",
    "model_path",
    "pick_backend",
    "tflite_for",
]


class Network:
    """A loaded model: ``predict(crops) -> (Prediction in crop px, network ms, upsample ms)``."""

    def __init__(self, config: NetworkConfig) -> None:
        self.config = config
        self.model = load_predictor(config)
        self.backend = self.model.backend
        self.device = self.model.device_name
        self.input_size: tuple[int, int] = tuple(self.model.input_size)  # type: ignore[assignment]
        self.weights = model_path(config.model)
        self.name = f"{self.weights.stem} ({self.backend}, {self.device})"

    def predict(self, crops: np.ndarray) -> tuple[Prediction, float, float]:
        """(B, h, w, 3) uint8 crops -> (prediction, network ms, upsampling ms)."""
        start = time.perf_counter()
        raw = self.model.infer(crops, want_iuv=self.config.want_iuv)
        mid = time.perf_counter()
        pred = self.model.finish(raw)
        return pred, (mid - start) * 1e3, (time.perf_counter() - mid) * 1e3
