"""What the pipeline hands to renderers and sinks: per-frame, per-person results.

Image coordinates follow the network's convention: the top-left pixel's centre is (0, 0)
(the renderer adds 0.5). Depth z is relative to the person's root (hip midpoint) in image
pixels, larger = farther.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STAGES: tuple[str, ...] = ("capture", "detect", "track", "network", "upsample", "render")


@dataclass(frozen=True, eq=False)
class PersonResult:
    """One tracked person in one frame.

    box (4,) continuous image px x0, y0, x1, y1 (the frame spans [0, W]); score: the last
    detection's confidence; keypoints (17, 3) COCO x, y, score; vertices (518, 3);
    visibility (518,) in [0, 1]; vertices_high (6890, 3); visibility_high (6890,) upsampled
    with the fixed topology weights; crop_to_image (2, 3) affine of this person's crop;
    iuv (3, h, w) the network's DensePose output in crop px (see crop_to_image) or None;
    foreground (h, w): the network's person mask probabilities on the crop's stride-4 cells
    (cell (i, j) centred at crop px (4 j + 1.5, 4 i + 1.5)), None where the backend gives none;
    vertices_camera (518, 3) / vertices_high_camera (6890, 3): the meshes in metres in the
    camera frame (x right, y down, z forward; ``camera_space``), None unless configured.
    """

    track_id: int
    box: np.ndarray
    score: float
    keypoints: np.ndarray
    vertices: np.ndarray
    visibility: np.ndarray
    vertices_high: np.ndarray
    visibility_high: np.ndarray
    crop_to_image: np.ndarray
    iuv: np.ndarray | None = None
    foreground: np.ndarray | None = None
    vertices_camera: np.ndarray | None = None
    vertices_high_camera: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class DensePoseFrame:
    """The frame's DensePose output in detectron2 / DensePose's dump convention, rendered
    from every person's mesh at once (nearer people hide farther ones).

    iuv (H, W, 3) uint8: channel 0 = part index I (0 background, 1..24), 1 = round(U * 255),
    2 = round(V * 255) (``cv2.imwrite`` writes it as DensePose's IUV.png: blue = I);
    person_index (H, W) uint8: 0 background, k = the frame's k-th person (1-based, the order
    of ``FrameResult.people`` and of the JSON export), like DensePose's INDS.png.
    """

    iuv: np.ndarray
    person_index: np.ndarray


@dataclass(eq=False)
class FrameResult:
    """Everything known about one frame. latency_ms has one entry per ``STAGES`` name;
    annotated is the rendered frame (None when no layer is enabled); densepose is set when
    ``RenderConfig.densepose`` asks for it."""

    index: int
    timestamp: float
    width: int
    height: int
    people: list[PersonResult]
    latency_ms: dict[str, float] = field(default_factory=dict)
    annotated: np.ndarray | None = None
    name: str | None = None
    detected: bool = False  # whether the detector ran on this frame
    densepose: DensePoseFrame | None = None

    @property
    def total_ms(self) -> float:
        return float(sum(self.latency_ms.values()))
