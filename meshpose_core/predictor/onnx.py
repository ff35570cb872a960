"""The onnxruntime backend (CPU) of an exported ``.onnx``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from meshpose_core.model.checkpoint import CheckpointError
from meshpose_core.onnx_session import cpu_session_options

from .base import Finisher, Predictor, RawPrediction, crop_pixels


class OnnxMeshPose(Predictor):
    """onnxruntime inference with the same ``predict`` as ``MeshPose``."""

    backend: ClassVar[str] = "onnx"

    def __init__(
        self, path: Path | str, threads: int = 2, outline_scales: Sequence[float] = ()
    ) -> None:
        """``outline_scales``: the weights' ``MeshPoseConfig.outline_scales`` (an exported
        graph does not carry them; ``load_predictor`` reads them from the weights)."""
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
        self.finish = Finisher(outline_scales)

    def infer(self, crops: np.ndarray, want_iuv: bool = False) -> RawPrediction:
        """crops (B, H, W, 3) uint8 RGB -> vertices (B, 518, 3) crop px, visibility (B, 518),
        foreground (B, h, w) (None from an export older than that output), iuv (B, 3, h, w)
        if asked for and exported."""
        if want_iuv and "iuv" not in self.outputs:
            raise ValueError("this ONNX model was exported without IUV (export with --iuv)")
        x = crop_pixels(crops, self.input_size)
        res = dict(zip(self.outputs, self.session.run(None, {"crops": x}), strict=True))
        foreground = res.get("foreground")
        return RawPrediction(
            res["vertices"],
            res["visibility"],
            res.get("iuv") if want_iuv else None,
            None if foreground is None else foreground[:, 0],
        )
