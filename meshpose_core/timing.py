"""Latency measurement that tolerates a shared, noisy CPU.

Each variant is timed in several rounds; both the median over all calls and the best round's
median are reported, the latter being the unloaded figure.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Latency:
    """Milliseconds per call (whole batch)."""

    median_ms: float
    best_round_ms: float


def time_call(
    fn: Callable[[], object], rounds: int = 5, iters: int = 10, warmup: int = 5
) -> Latency:
    """Latency of ``fn()``; the first ``warmup`` calls (allocator, oneDNN kernels) are dropped."""
    for _ in range(warmup):
        fn()
    round_medians, all_times = [], []
    for _ in range(rounds):
        times = []
        for _ in range(iters):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3)
        round_medians.append(statistics.median(times))
        all_times += times
    return Latency(statistics.median(all_times), min(round_medians))
