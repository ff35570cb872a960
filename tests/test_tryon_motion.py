"""Try-on ``motion``: the hem lag smooths motion relative to the body, not translation."""

from __future__ import annotations

import numpy as np

from meshpose_core.tryon.motion import HemLag


def test_hem_lag_smooths_relative_motion() -> None:
    lag = HemLag(0.5)
    v0 = np.zeros((2, 3), np.float32)
    weight = np.array([0.0, 1.0], np.float32)
    root = np.zeros(3, np.float32)
    np.testing.assert_array_equal(lag.apply("k", v0, root, 1.0, weight), v0)
    v1 = v0 + np.float32([10, 0, 0])
    out = lag.apply("k", v1, root, 1.0, weight)
    np.testing.assert_allclose(out[:, 0], [10.0, 5.0])  # held vertex follows, hem lags half
    moved_root = lag.apply("k", v1 + 100, root + 100, 1.0, weight)  # translation: no drag
    np.testing.assert_allclose(moved_root[:, 0], [110.0, 107.5])
    lag.keep_only([])
    np.testing.assert_array_equal(lag.apply("k", v1, root, 1.0, weight), v1)
