"""Crops in, meshes out: the inference API shared by every caller (pipeline, GUI, export).

One ``Predictor`` protocol (``base``), one module per backend: ``MeshPose`` runs the network
with PyTorch (CPU, or CUDA in fp16), ``OnnxMeshPose`` with onnxruntime, ``LiteRtMeshPose``
with LiteRT; all return the same ``Prediction`` through one ``finish`` step (upsampling and
keypoints), so swapping backends changes nothing downstream. ``load_predictor(config)``
chooses the backend (``loading``).
"""

from meshpose_core.model.meshpose import normalise_pixels

from .base import Finisher, Prediction, Predictor, RawPrediction, crop_pixels
from .litert import LiteRtMeshPose
from .loading import NetworkConfig, load_predictor
from .onnx import OnnxMeshPose
from .torch import MeshPose, normalise_crops, pick_device

__all__ = [
    "Finisher",
    "LiteRtMeshPose",
    "MeshPose",
    "NetworkConfig",
    "OnnxMeshPose",
    "Prediction",
    "Predictor",
    "RawPrediction",
    "crop_pixels",
    "load_predictor",
    "normalise_crops",
    "normalise_pixels",
    "pick_device",
]
