"""The GUI's "video" layer: the pipeline's layer renderer over a faded (or black) frame.

The pipeline always draws its layers over the full-strength frame; hiding or fading the video
(to judge a mesh on its own) is the one drawing option it lacks, so this subclass dims the
frame and leaves everything else to ``LayerRenderer``. A ``video`` layer in
``meshpose_core.pipeline.layers`` would make it reachable from the CLI (see docs/gui.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np

from meshpose_core.pipeline import LayerRenderer, PersonResult, RenderConfig


def faded(image: np.ndarray, opacity: float) -> np.ndarray:
    """``image`` scaled toward black by ``opacity`` in [0, 1] (the same array at 1)."""
    if opacity >= 1.0:
        return image
    if opacity <= 0.0:
        return np.zeros_like(image)
    return cv2.convertScaleAbs(image, alpha=opacity)


class BackdropRenderer(LayerRenderer):
    """``LayerRenderer`` whose layers and video opacity can change between frames."""

    def __init__(self, config: RenderConfig, video_opacity: float = 1.0) -> None:
        super().__init__(config)
        self.video_opacity = video_opacity

    def set_layers(
        self,
        layers: tuple[tuple[str, float], ...],
        video_opacity: float,
        outfits: tuple[tuple[str, ...], ...],
    ) -> None:
        """New layers, opacities and outfits from the next ``render`` on (keeps the GL
        context). ``GarmentError`` if an outfit cannot be loaded: nothing changes then."""
        self.set_outfits(outfits)
        self.config = replace(self.config, layers=layers)
        self.video_opacity = video_opacity

    def render(
        self, image: np.ndarray, people: Sequence[PersonResult], hud: Sequence[str] = ()
    ) -> np.ndarray:
        return super().render(faded(image, self.video_opacity), people, hud)
