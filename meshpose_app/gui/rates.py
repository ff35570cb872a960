"""Frame rates over a sliding window of recent events (what the HUD calls FPS).

A window of timestamps, not an exponential average: it reads 0 soon after frames stop (a
paused player must not keep showing 30 FPS) and needs no tuning for slow or fast rates.
"""

from __future__ import annotations

import time
from collections import deque


class RateMeter:
    """Events per second over the last ``window`` events, forgetting those older than
    ``horizon_s`` seconds."""

    def __init__(self, window: int = 30, horizon_s: float = 2.0) -> None:
        self._times: deque[float] = deque(maxlen=window)
        self._horizon = horizon_s

    def tick(self, now: float | None = None) -> None:
        self._times.append(time.perf_counter() if now is None else now)

    def rate(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        while self._times and now - self._times[0] > self._horizon:
            self._times.popleft()
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-9)

    def reset(self) -> None:
        self._times.clear()
