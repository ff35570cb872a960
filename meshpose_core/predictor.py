"""Crops in, meshes out: the inference API shared by every caller (pipeline, GUI, export).

``MeshPose`` runs the network with PyTorch (CPU, or CUDA in fp16), ``OnnxMeshPose`` with
onnxruntime; both return the same ``Prediction`` through one ``finish`` step (upsampling and
keypoints), so swapping backends changes nothing downstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
from meshpose_core.model.meshpose import IMAGE_MEAN, IMAGE_STD, MeshPoseConfig, MeshPoseNet
from meshpose_core.model.upsampler import LearnedUpsampler
from meshpose_core.onnx_session import cpu_session_options
from meshpose_core.topology import NUM_COCO, Topology
from meshpose_core.topology.combine import combine_rows


@dataclass(frozen=True)
class Prediction:
    """Per crop, in crop pixels (top-left pixel centre = (0, 0)); z is depth relative to the
    root in pixels (larger = farther).

    vertices (B, 518, 3), visibility (B, 518) in [0, 1], vertices_high (B, 6890, 3),
    keypoints (B, 17, 3) COCO order as (x, y, score), iuv (B, 3, h, w) float (I 0..24, U, V)
    at the score-map resolution or None.
    """

    vertices: np.ndarray
    visibility: np.ndarray
    vertices_high: np.ndarray
    keypoints: np.ndarray
    iuv: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.vertices)


# constants (tensors made once: a tracer records them without warning)
_CHANNELS = {
    "mean": torch.tensor(IMAGE_MEAN).view(1, 1, 1, 3),
    "std": torch.tensor(IMAGE_STD).view(1, 1, 1, 3),
}


def crop_pixels(crops: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """(B, H, W, 3) uint8 RGB crops -> (B, H, W, 3) float32 pixels 0..255, what the exported
    graphs take: they normalise in the graph, a few µs there against ~0.4 ms in numpy or
    torch before each call."""
    if crops.ndim != 4 or crops.shape[-1] != 3 or crops.dtype != np.uint8:
        raise ValueError(f"crops must be (B, H, W, 3) uint8 RGB, got {crops.shape} {crops.dtype}")
    if tuple(crops.shape[1:3]) != tuple(input_size):
        raise ValueError(f"crops are {crops.shape[1:3]}, the model takes {tuple(input_size)}")
    return crops.astype(np.float32)


def normalise_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) float RGB pixels 0..255 -> (B, 3, H, W) normalised for the network (the
    PyTorch path and the exported graphs alike)."""
    mean, std = (_CHANNELS[k].to(pixels) for k in ("mean", "std"))
    # normalised before the layout change: a converter to NHWC then keeps no transpose
    return ((pixels * (1.0 / 255.0) - mean) / std).permute(0, 3, 1, 2)


def normalise_crops(crops: np.ndarray, input_size: tuple[int, int]) -> torch.Tensor:
    """(B, H, W, 3) uint8 RGB -> (B, 3, H, W) float normalised for the network."""
    return normalise_pixels(torch.from_numpy(crop_pixels(crops, input_size)))


@dataclass(frozen=True)
class RawPrediction:
    """The network's own output before upsampling: vertices (B, 518, 3), visibility (B, 518),
    iuv (B, 3, h, w) or None."""

    vertices: np.ndarray
    visibility: np.ndarray
    iuv: np.ndarray | None = None


class Finisher:
    """Low-poly vertices + visibility -> Prediction (learned upsampling, COCO keypoints)."""

    def __init__(self) -> None:
        self.topology = Topology.load("low")
        self.upsampler = LearnedUpsampler.from_pretrained()
        self._stages = self.upsampler.stage_arrays()
        self._lm_index = self.topology.landmark_index[:NUM_COCO]
        self._lm_weight = self.topology.landmark_weight[:NUM_COCO]

    def upsample(self, vertices: np.ndarray) -> np.ndarray:
        """(B, 518, D) -> (B, 6890, D) float32 through the learned stages."""
        out = np.asarray(vertices, np.float32)
        for index, weight in self._stages:
            out = combine_rows(out, index, weight)
        return np.ascontiguousarray(out)

    def __call__(self, raw: RawPrediction) -> Prediction:
        vertices, visibility, iuv = raw.vertices, raw.visibility, raw.iuv
        high = self.upsample(vertices)
        xy = np.einsum("ks,bksd->bkd", self._lm_weight, vertices[:, self._lm_index, :2])
        score = np.einsum("ks,bks->bk", self._lm_weight, visibility[:, self._lm_index])
        return Prediction(
            vertices=vertices.astype(np.float32),
            visibility=visibility.astype(np.float32),
            vertices_high=high.astype(np.float32),
            keypoints=np.concatenate([xy, score[..., None]], axis=-1).astype(np.float32),
            iuv=None if iuv is None else iuv.astype(np.float32),
        )


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda requested but no CUDA GPU is available")
    return torch.device(device)


class MeshPose:
    """PyTorch inference: ``MeshPose.from_pretrained().predict(crops)`` (the shipped weights)."""

    def __init__(self, net: MeshPoseNet, card: dict | None = None, device: str = "auto") -> None:
        self.device = pick_device(device)
        self.card = card or {}
        net = net.to(self.device).eval()
        if self.device.type == "cpu":
            prepare_for_inference(net)  # BN folded, channels_last: ~2x on CPU
        self.net = net
        self.config: MeshPoseConfig = net.cfg
        self.input_size: tuple[int, int] = tuple(net.cfg.input_size)  # type: ignore[assignment]
        self.topology_arrays = TopologyArrays.from_topology(Topology.load("low"), self.device)
        self.finish = Finisher()

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path = DEFAULT_MODEL, device: str = "auto"
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
        return cls(net, card, device)

    def predict(self, crops: np.ndarray, want_iuv: bool = False) -> Prediction:
        """crops (B, H, W, 3) uint8 RGB at ``input_size`` -> Prediction (batched, no autograd)."""
        return self.finish(self.infer(crops, want_iuv))

    @torch.inference_mode()
    def infer(self, crops: np.ndarray, want_iuv: bool = False) -> RawPrediction:
        """The network and its decoding only (no upsampling): callers that time stages."""
        x = normalise_crops(crops, self.input_size).to(self.device)
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.device.type == "cuda"):
            raw = self.net(x)
        raw = {k: v.float() for k, v in raw.items()}
        out = self.net.decode(raw, self.topology_arrays, want_iuv)
        iuv = out["iuv"].cpu().numpy() if want_iuv else None
        return RawPrediction(out["vertices"].cpu().numpy(), out["visibility"].cpu().numpy(), iuv)


class OnnxMeshPose:
    """onnxruntime inference with the same ``predict`` as ``MeshPose``."""

    def __init__(self, path: Path | str, threads: int = 2) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"ONNX model not found: {path}")
        opts = cpu_session_options(threads)
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise CheckpointError(f"ONNX model {path} could not be loaded: {exc}") from exc
        shape = self.session.get_inputs()[0].shape  # (batch, H, W, 3) pixels
        if len(shape) != 4 or shape[3] != 3:
            raise CheckpointError(
                f"ONNX model {path} takes {shape}, not (batch, H, W, 3) crop pixels: an export "
                "of an older version; export it again (python -m meshpose_core.export)"
            )
        self.input_size = (int(shape[1]), int(shape[2]))
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.finish = Finisher()

    def predict(self, crops: np.ndarray, want_iuv: bool = False) -> Prediction:
        return self.finish(self.infer(crops, want_iuv))

    def infer(self, crops: np.ndarray, want_iuv: bool = False) -> RawPrediction:
        if want_iuv and "iuv" not in self.outputs:
            raise ValueError("this ONNX model was exported without IUV (export with --iuv)")
        x = crop_pixels(crops, self.input_size)
        res = dict(zip(self.outputs, self.session.run(None, {"crops": x}), strict=True))
        return RawPrediction(
            res["vertices"], res["visibility"], res.get("iuv") if want_iuv else None
        )


class LiteRtMeshPose:
    """LiteRT (XNNPACK) inference of an exported ``.tflite`` with the same ``predict`` as
    ``MeshPose``. The file has batch 1 (XNNPACK cannot reshape its graph to another batch),
    so people run one after the other, as BlazePose's landmark model does."""

    def __init__(self, path: Path | str, threads: int = 2) -> None:
        from ai_edge_litert.interpreter import Interpreter

        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"TFLite model not found: {path}")
        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
            self.interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise CheckpointError(f"TFLite model {path} could not be loaded: {exc}") from exc
        inputs = self.interpreter.get_input_details()
        # outputs by rank: vertices (1, V, 3), visibility (1, V)
        outputs = {len(d["shape"]): d for d in self.interpreter.get_output_details()}
        shape = [tuple(d["shape"]) for d in (*inputs, *outputs.values())]
        if (
            len(inputs) != 1
            or len(shape[0]) != 4
            or shape[0][0] != 1
            or shape[0][3] != 3
            or set(outputs) != {2, 3}
            or outputs[3]["shape"][2] != 3
            or outputs[3]["shape"][1] != outputs[2]["shape"][1]
        ):
            raise CheckpointError(
                f"TFLite model {path} is not a MeshPose export (inputs/outputs {shape}; make "
                "one with python -m meshpose_core.export --format tflite)"
            )
        self._input = inputs[0]["index"]
        self.input_size = (int(shape[0][1]), int(shape[0][2]))
        self._vertices, self._visibility = outputs[3]["index"], outputs[2]["index"]
        self.finish = Finisher()

    def predict(self, crops: np.ndarray, want_iuv: bool = False) -> Prediction:
        return self.finish(self.infer(crops, want_iuv))

    def infer(self, crops: np.ndarray, want_iuv: bool = False) -> RawPrediction:
        if want_iuv:
            raise ValueError("the TFLite model has no IUV output (use the onnx or torch backend)")
        x = crop_pixels(crops, self.input_size)
        vertices, visibility = [], []
        for crop in x:
            self.interpreter.set_tensor(self._input, crop[None])
            self.interpreter.invoke()
            vertices.append(self.interpreter.get_tensor(self._vertices)[0].copy())
            visibility.append(self.interpreter.get_tensor(self._visibility)[0].copy())
        return RawPrediction(np.stack(vertices), np.stack(visibility))
