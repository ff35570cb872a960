"""The LiteRT backend (XNNPACK, CPU) of an exported ``.tflite``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from meshpose_core.model.checkpoint import CheckpointError

from .base import Finisher, Predictor, RawPrediction, crop_pixels


class LiteRtMeshPose(Predictor):
    """LiteRT (XNNPACK) inference of an exported ``.tflite`` with the same ``predict`` as
    ``MeshPose``. The file has batch 1 (XNNPACK cannot reshape its graph to another batch),
    so people run one after the other, as BlazePose's landmark model does."""

    backend: ClassVar[str] = "litert"

    def __init__(
        self, path: Path | str, threads: int = 2, outline_scales: Sequence[float] = ()
    ) -> None:
        """``outline_scales``: the weights' ``MeshPoseConfig.outline_scales`` (an exported
        graph does not carry them; ``load_predictor`` reads them from the weights)."""
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
        # outputs by rank: vertices (1, V, 3), visibility (1, V), foreground (1, 1, h, w)
        outputs = {len(d["shape"]): d for d in self.interpreter.get_output_details()}
        shape = [tuple(d["shape"]) for d in (*inputs, *outputs.values())]
        if (
            len(inputs) != 1
            or len(shape[0]) != 4
            or shape[0][0] != 1
            or shape[0][3] != 3
            or set(outputs) != {2, 3, 4}
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
        self._foreground = outputs[4]["index"]
        self.finish = Finisher(outline_scales)

    def infer(self, crops: np.ndarray, want_iuv: bool = False) -> RawPrediction:
        """crops (B, H, W, 3) uint8 RGB -> vertices (B, 518, 3) crop px, visibility (B, 518),
        foreground (B, h, w); no IUV (ValueError if asked for), one crop per interpreter
        call."""
        if want_iuv:
            raise ValueError("the TFLite model has no IUV output (use the onnx or torch backend)")
        x = crop_pixels(crops, self.input_size)
        vertices, visibility, foreground = [], [], []
        for crop in x:
            self.interpreter.set_tensor(self._input, crop[None])
            self.interpreter.invoke()
            vertices.append(self.interpreter.get_tensor(self._vertices)[0].copy())
            visibility.append(self.interpreter.get_tensor(self._visibility)[0].copy())
            foreground.append(self.interpreter.get_tensor(self._foreground)[0, 0].copy())
        return RawPrediction(
            np.stack(vertices), np.stack(visibility), foreground=np.stack(foreground)
        )
