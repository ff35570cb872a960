"""SSD anchors of MediaPipe's pose detector (``SsdAnchorsCalculator`` in its detection graph).

The detector regresses its boxes and keypoints relative to these anchors, so they must match
the graph the model was trained with exactly: 224x224 input, strides 8, 16, 32, 32, 32, two
anchors per layer and cell (aspect ratio 1 plus the interpolated scale), fixed unit size and
cell-centre offsets of 0.5. Consecutive layers with the same stride share one grid, so the
three stride-32 layers give 6 anchors per cell: 28*28*2 + 14*14*2 + 7*7*6 = 2254.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NUM_POSE_ANCHORS = 2254


@dataclass(frozen=True)
class SsdAnchorConfig:
    """Options of MediaPipe's ``SsdAnchorsCalculator`` that matter for a fixed-size scheme."""

    input_size: int = 224
    strides: tuple[int, ...] = (8, 16, 32, 32, 32)
    anchors_per_layer: int = 2
    anchor_offset: float = 0.5


def generate_anchors(config: SsdAnchorConfig | None = None) -> np.ndarray:
    """Anchor centres and sizes in the order of the model's outputs.

    Returns:
        (N, 4) float32 rows ``(x_center, y_center, width, height)`` normalised to [0, 1];
        width and height are 1 (fixed anchor size). N = 2254 for the default config.
    """
    config = config or SsdAnchorConfig()
    blocks = []
    layer = 0
    while layer < len(config.strides):
        stride = config.strides[layer]
        same = 0
        while layer + same < len(config.strides) and config.strides[layer + same] == stride:
            same += 1
        layer += same
        cells = math.ceil(config.input_size / stride)
        centres = (np.arange(cells, dtype=np.float64) + config.anchor_offset) / cells
        cy, cx = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([cx.ravel(), cy.ravel()], axis=-1)  # (cells*cells, 2), row-major
        blocks.append(np.repeat(grid, same * config.anchors_per_layer, axis=0))
    centres = np.concatenate(blocks)
    anchors = np.concatenate([centres, np.ones_like(centres)], axis=1).astype(np.float32)
    return anchors


def pose_detector_anchors() -> np.ndarray:
    """The (2254, 4) anchors of ``pose_detection.tflite``; checked against the model's size."""
    anchors = generate_anchors()
    assert anchors.shape == (NUM_POSE_ANCHORS, 4), anchors.shape
    return anchors
