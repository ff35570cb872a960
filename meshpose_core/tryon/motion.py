"""Secondary motion: hems and bags lag a little behind the body, per track.

Exponential smoothing of each garment vertex *relative to the body* (its centroid, in units
of the body's size), so a person walking across the frame drags nothing, while a turn or a
jump makes a skirt hem swing after the hips. Each vertex lags by its garment's
``lag_weight`` (0 at the waistband, 1 at the hem).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import numpy as np


class HemLag:
    """Per-(track, garment) smoothing state. ``smoothing`` in [0, 1): 0 = no lag; the
    fraction of the previous relative position a fully free vertex keeps each frame."""

    def __init__(self, smoothing: float) -> None:
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = float(smoothing)
        self._state: dict[Hashable, np.ndarray] = {}

    def apply(
        self,
        key: Hashable,
        vertices: np.ndarray,
        root: np.ndarray,
        scale: float,
        lag_weight: np.ndarray,
    ) -> np.ndarray:
        """(N, 3) posed garment vertices -> lagged (N, 3) float32; updates the state.

        Args:
            key: identifies the track and garment (a new key starts without lag).
            root: (3,) body reference point this frame; scale: body size (``body_scale``).
            lag_weight: (N,) in [0, 1].
        """
        rel = (np.asarray(vertices, np.float32) - root) / np.float32(max(scale, 1e-6))
        prev = self._state.get(key)
        if prev is not None and prev.shape == rel.shape and self.smoothing > 0.0:
            keep = (self.smoothing * np.asarray(lag_weight, np.float32))[:, None]
            rel = prev + (1.0 - keep) * (rel - prev)
        self._state[key] = rel
        return (rel * np.float32(scale) + root).astype(np.float32)

    def keep_only(self, keys: Iterable[Hashable]) -> None:
        """Forget the tracks not in ``keys`` (those gone from the frame)."""
        live = set(keys)
        for key in [k for k in self._state if k not in live]:
            del self._state[key]

    def reset(self) -> None:
        self._state.clear()
