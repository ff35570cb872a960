"""The PyTorch backend: CPU (BatchNorm folded, channels_last) or CUDA in fp16."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from meshpose_core.model.checkpoint import (
    DEFAULT_MODEL,
    PRESET_NAMES,
    CheckpointError,
    load_checkpoint,
    resolve_weights,
)
from meshpose_core.model.decoding import TopologyArrays
from meshpose_core.model.inference import prepare_for_inference
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet, normalise_pixels
from meshpose_core.topology import Topology

from .base import Finisher, Predictor, RawPrediction, crop_pixels


def normalise_crops(crops: np.ndarray, input_size: tuple[int, int]) -> torch.Tensor:
    """(B, H, W, 3) uint8 RGB -> (B, 3, H, W) float normalised for the network."""
    return normalise_pixels(torch.from_numpy(crop_pixels(crops, input_size)))


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda requested but no CUDA GPU is available")
    return torch.device(device)


class MeshPose(Predictor):
    """PyTorch inference: ``MeshPose.from_pretrained().predict(crops)`` (the shipped weights)."""

    backend: ClassVar[str] = "torch"

    def __init__(
        self,
        net: MeshPoseNet,
        card: dict | None = None,
        device: str = "auto",
        outline: bool = True,
    ) -> None:
        """``outline``: widen the body to the person's outline with the checkpoint's
        ``outline_scales`` (``Finisher``); False gives the body surface."""
        self.device = pick_device(device)
        self.card = card or {}
        net = net.to(self.device).eval()
        if self.device.type == "cpu":
            prepare_for_inference(net)  # BN folded, channels_last: ~2x on CPU
        self.net = net
        self.config: MeshPoseConfig = net.cfg
        self.input_size: tuple[int, int] = tuple(net.cfg.input_size)  # type: ignore[assignment]
        self.topology_arrays = TopologyArrays.from_topology(Topology.load("low"), self.device)
        self.finish = Finisher(net.cfg.outline_scales if outline else ())

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path = DEFAULT_MODEL, device: str = "auto", outline: bool = True
    ) -> MeshPose:
        """A preset name ('xs_bp': the shipped weights, the default; 'xs', 's', 'l' once
        trained) or a checkpoint path."""
        path = resolve_weights(name_or_path)
        if not path.is_file() and str(name_or_path).lower() in PRESET_NAMES:
            raise CheckpointError(
                f"no trained weights for MeshPose-{str(name_or_path).upper()} at {path}; "
                f"train them (python -m meshpose_core.train) or pass a checkpoint path"
            )
        net, card = load_checkpoint(path)
        return cls(net, card, device, outline)

    @property
    def device_name(self) -> str:
        return str(self.device)

    @torch.inference_mode()
    def infer(self, crops: np.ndarray, want_iuv: bool = False) -> RawPrediction:
        """crops (B, H, W, 3) uint8 RGB -> vertices (B, 518, 3) crop px, visibility (B, 518),
        foreground (B, h, w), iuv (B, 3, h, w) if asked for."""
        x = normalise_crops(crops, self.input_size).to(self.device)
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.device.type == "cuda"):
            raw = self.net(x)
        out = self.net.decode(raw.float(), self.topology_arrays, want_iuv)
        iuv = out.iuv.cpu().numpy() if out.iuv is not None else None
        return RawPrediction(
            out.vertices.cpu().numpy(),
            out.visibility.cpu().numpy(),
            iuv,
            out.foreground.cpu().numpy(),
        )
