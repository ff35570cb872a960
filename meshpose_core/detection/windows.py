"""Square sub-windows of a frame, to run the detector at a higher resolution.

The detector sees the frame letterboxed to 224x224, so in a wide frame people are small and
the short side is wasted on padding; at that scale it misses people that are not dominant
(e.g. the second and third pedestrian of a street scene). Running it also on square windows
spanning the short side recovers them, at one extra detector call per window.
"""

from __future__ import annotations

import numpy as np

MIN_ASPECT_FOR_WINDOWS = 1.15  # nearly square frames gain nothing from windows


def detection_windows(height: int, width: int, count: int) -> list[tuple[int, int, int, int]]:
    """Whole frame first, then ``count`` evenly spaced square windows along the long side.

    Returns:
        list of ``(x0, y0, x1, y1)`` integer pixel rectangles inside the frame.
    """
    if count < 0:
        raise ValueError(f"window count must be >= 0, got {count}")
    windows = [(0, 0, width, height)]
    short, long_ = min(height, width), max(height, width)
    if count == 0 or long_ < MIN_ASPECT_FOR_WINDOWS * short:
        return windows
    if count == 1:
        starts = [(long_ - short) // 2]
    else:
        starts = [int(s) for s in np.linspace(0, long_ - short, count).round()]
    for start in starts:
        if width >= height:
            windows.append((start, 0, start + short, height))
        else:
            windows.append((0, start, width, start + short))
    return windows
