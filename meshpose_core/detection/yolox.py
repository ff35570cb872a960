"""General person detector: Megvii's YOLOX-Nano (COCO, class 0 = person) via onnxruntime.

BlazePose's SSD finds people by the face and upper body, so it misses people seen from
behind, riders, small people and crowds; YOLOX boxes the whole visible person of any pose
(measured in docs/pipeline.md: recall of people >= 100 px tall 0.9 against BlazePose's 0.7).
It gives a box only: no hip / scale points, no tilt. The pipeline turns that box into a
first crop, then follows the body with the crops of its own meshes (``pipeline/crops.py``).

The model (``assets/yolox/yolox_nano.onnx``, Apache-2.0) takes BGR 0-255 letterboxed to the
top-left on grey 114, and outputs raw grid predictions, one row per cell of the stride 8,
16 and 32 grids: (dx, dy, log w, log h, objectness, 80 class probabilities), sigmoids
already applied to the last 81. The graph is fully convolutional: any input size that is a
multiple of 32 works with the same weights (320: a little less recall, ~35 % faster).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from meshpose_core.onnx_session import cpu_session_options
from meshpose_core.resources import asset_path

from .blazepose_detector import Detection, DetectorError, check_frame
from .letterbox import letterbox
from .nms import hard_nms

if TYPE_CHECKING:
    import onnxruntime

ASSET_DIR = asset_path("yolox")
DEFAULT_YOLOX_PATH = ASSET_DIR / "yolox_nano.onnx"
YOLOX_STRIDES: tuple[int, ...] = (8, 16, 32)
PAD_VALUE = 114
PERSON_CLASS = 0


@dataclass(frozen=True)
class YoloxConfig:
    """Run-time options. ``input_size`` must be a multiple of 32 (416: the training size).
    ``box_scale``: the tracker's box is the person's box squared (longer side) times this.
    Mesh boxes are 1.1x the mesh's extent (``TrackerConfig.mesh_box_scale``), and YOLOX's
    box is already 1.09-1.11x the extent of the mesh predicted in it (medians over 86 clip
    frames and 103 people of the COCO photos), so 1.0 makes detector and mesh boxes agree
    (1.1 enlarged the box at every detection: looser crops, a limb drawn above the head)."""

    model_path: Path | str = DEFAULT_YOLOX_PATH
    input_size: int = 416
    num_threads: int = 2
    # objectness x person probability. Below ``TrackerConfig.confident_score`` (0.4, the
    # best F1 of the detector alone on the annotated photos) a detection is weak: the
    # pipeline draws it only once its own mesh vets it. 0.2 with that rule: more people
    # found through the pipeline than at 0.4, for less precision than drawing every weak
    # mesh (docs/pipeline.md, *Weak detections*)
    score_threshold: float = 0.2
    nms_iou_threshold: float = 0.45  # YOLOX's demo value
    max_detections: int | None = None
    box_scale: float = 1.0
    roi_enlarge: float = 1.25


def yolox_grids(
    input_size: int, strides: tuple[int, ...] = YOLOX_STRIDES
) -> tuple[np.ndarray, np.ndarray]:
    """The cell of every output row, in the model's order (strides ascending, row-major).

    Returns:
        grids (N, 2) float32 cell (x, y) indices; strides (N, 1) float32 px per cell.
        N = sum((input_size // s) ** 2), 3549 at 416.
    """
    if input_size <= 0 or any(input_size % s for s in strides):
        raise ValueError(f"input size must be a multiple of {max(strides)}, got {input_size}")
    grids, cell_strides = [], []
    for stride in strides:
        cells = input_size // stride
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grids.append(np.stack([xs.ravel(), ys.ravel()], axis=-1))
        cell_strides.append(np.full((cells * cells, 1), stride))
    return (
        np.concatenate(grids).astype(np.float32),
        np.concatenate(cell_strides).astype(np.float32),
    )


def decode_yolox(
    raw: np.ndarray, grids: np.ndarray, strides: np.ndarray, class_index: int = PERSON_CLASS
) -> tuple[np.ndarray, np.ndarray]:
    """Raw YOLOX rows -> boxes in input px and one class's scores (YOLOX's demo postprocess).

    Args:
        raw: (N, 5 + C) rows (dx, dy, log w, log h, objectness, C class probabilities).
        grids: (N, 2) cell indices and strides (N, 1), as ``yolox_grids`` gives them.

    Returns:
        boxes (N, 4) x0, y0, x1, y1 (continuous input px: centre (cell + d) * stride, size
        exp(log size) * stride); scores (N,) objectness x probability of ``class_index``.
    """
    if raw.ndim != 2 or raw.shape[1] < 6 + class_index:
        raise ValueError(f"raw YOLOX output must be (N, 5 + classes), got shape {raw.shape}")
    if grids.shape != (raw.shape[0], 2) or strides.shape != (raw.shape[0], 1):
        raise ValueError(
            f"grids {grids.shape} / strides {strides.shape} do not fit {raw.shape[0]} rows"
        )
    raw = raw.astype(np.float32)
    centre = (raw[:, :2] + grids) * strides
    half = np.exp(np.minimum(raw[:, 2:4], 20.0)) * strides / 2  # clamp: no overflow to inf
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    return boxes, raw[:, 4] * raw[:, 5 + class_index]


def tracking_box(person_box: np.ndarray, scale: float) -> np.ndarray:
    """(4,) tight person box -> (4,) square of side ``scale`` x its longer side, same centre
    (what the tracker follows; a mesh box is made the same way, ``tracker.mesh_box``)."""
    centre = (person_box[:2] + person_box[2:]) / 2
    half = max(float((person_box[2:] - person_box[:2]).max()), 1.0) * scale / 2
    return np.concatenate([centre - half, centre + half])


class YoloxDetector:
    """Finds every person in an RGB frame; ``detect(frame) -> list[Detection]``, best first.

    Holds one onnxruntime session: use one detector per thread.
    """

    def __init__(self, config: YoloxConfig | None = None) -> None:
        self.config = config or YoloxConfig()
        self._session = _load_session(
            Path(self.config.model_path), self.config.num_threads, self.config.input_size
        )
        self._input_name = self._session.get_inputs()[0].name
        self._grids, self._strides = yolox_grids(self.config.input_size)

    def raw_outputs(self, model_input: np.ndarray) -> np.ndarray:
        """(1, 3, S, S) float32 BGR input -> (N, 85) raw rows."""
        return self._session.run(None, {self._input_name: model_input})[0][0]

    def detect_boxes(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 RGB -> tight person boxes (M, 4) in frame px (continuous) and
        scores (M,), after NMS, best first."""
        check_frame(image)
        cfg = self.config
        canvas, placement = letterbox(image, cfg.input_size, fill=PAD_VALUE, centred=False)
        model_input = np.ascontiguousarray(canvas[..., ::-1].transpose(2, 0, 1)[None], np.float32)
        boxes, scores = decode_yolox(self.raw_outputs(model_input), self._grids, self._strides)
        keep = scores >= cfg.score_threshold
        boxes, scores = boxes[keep], scores[keep]
        kept = hard_nms(boxes, scores, cfg.nms_iou_threshold, cfg.max_detections)
        corners = boxes[kept].reshape(-1, 2, 2) / cfg.input_size  # normalised for placement
        return placement.to_image(corners).reshape(-1, 4), scores[kept]

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detect people in an (H, W, 3) uint8 RGB frame."""
        boxes, scores = self.detect_boxes(image)
        return [
            Detection(
                box=tracking_box(box, self.config.box_scale),
                score=float(score),
                roi_enlarge=self.config.roi_enlarge,
                person_box=box,
            )
            for box, score in zip(boxes, scores, strict=True)
        ]


def _load_session(
    model_path: Path, num_threads: int, input_size: int
) -> onnxruntime.InferenceSession:
    """Open and check a YOLOX ONNX file; every failure becomes one ``DetectorError``."""
    import onnxruntime as ort

    if not model_path.is_file():
        raise DetectorError(f"YOLOX person detector model not found: {model_path}")
    options = cpu_session_options(num_threads)
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise DetectorError(f"YOLOX model {model_path} is unreadable: {exc}") from exc
    shape = session.get_inputs()[0].shape
    out = session.get_outputs()[0].shape
    if len(shape) != 4 or shape[1] != 3 or len(out) != 3 or out[-1] != 85:
        raise DetectorError(
            f"{model_path} is not a YOLOX COCO detector: input {shape}, output {out}"
        )
    if shape[2:] != [input_size, input_size]:
        # the export declares 416; the graph is fully convolutional, so re-declare the size
        session = _resized_session(model_path, options, input_size)
    return session


def _resized_session(
    model_path: Path, options: onnxruntime.SessionOptions, input_size: int
) -> onnxruntime.InferenceSession:
    """A session of the same graph with its input (and output rows) declared at another
    size (edits only the declared shapes in memory)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(model_path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value = dims[3].dim_value = input_size
    rows = sum((input_size // s) ** 2 for s in YOLOX_STRIDES)
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = rows
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
