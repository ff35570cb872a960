"""Progress with ETA for runs over files (tqdm), silent when nobody watches.

The bar shows only where it helps: a known number of frames (a video file, images) and a
terminal on the stream (not a pipe, a log file or CI), so logs and scripts stay clean.
"""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm


def progress_bar(total: int | None, stream: TextIO | None = None) -> tqdm:
    """A tqdm bar over ``total`` frames on ``stream`` (default stderr), disabled without a
    total or a terminal; use as a context manager and ``update(1)`` per frame."""
    stream = stream or sys.stderr
    shown = bool(total) and hasattr(stream, "isatty") and stream.isatty()
    return tqdm(
        total=total, unit="frame", file=stream, disable=not shown, dynamic_ncols=True, leave=True
    )
