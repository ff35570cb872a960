"""Running an iterator ahead in a background thread, so that consecutive stages overlap.

``prefetch(frames)`` decodes the next frames while the caller works on the current one;
chaining two (``prefetch(infer(f) for f in prefetch(frames))``) makes a three-stage pipeline
where decoding, inference and rendering/encoding of neighbouring frames run at once. On two
CPU cores this uses the time one stage leaves a core idle (onnxruntime's second thread, the
encoder's waits): the native libraries release the GIL while they work.

Order is kept, an exception in the background is raised in the consumer at the item where it
happened, and closing the consumer (``break``, Ctrl-C, ``close()``) stops and joins the
thread and closes the source iterator there.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
S = TypeVar("S")

_DONE = object()
_POLL_S = 0.05  # how often a blocked producer checks whether the consumer has gone


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetch(items: Iterable[T], depth: int = 2, name: str = "prefetch") -> Iterator[T]:
    """Yield ``items`` in order while a thread computes up to ``depth`` of them ahead (the
    thread starts at the first ``next``)."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    return _prefetch(items, depth, name)


def _prefetch(items: Iterable[T], depth: int, name: str) -> Iterator[T]:
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        it = iter(items)
        try:
            for item in it:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_Failure(exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


def latest(items: Iterable[T], name: str = "capture") -> Iterator[T]:
    """Yield the newest of ``items`` that a thread takes as they come, skipping those a newer
    one replaced before the consumer asked: a live camera's frames, which only go stale in
    a queue (``prefetch`` would hand them over in order, each older by the time it waits).
    Order is kept, an exception in the thread is raised in the consumer after the items
    before it, and closing the consumer stops and joins the thread (after the item it is
    waiting for) and closes the source iterator there."""
    slot: list[object] = []  # at most one item, the newest
    ready = threading.Condition()
    stop = threading.Event()
    ended: list[object] = []  # _DONE or a _Failure, once the items end

    def produce() -> None:
        it = iter(items)
        end: object = _DONE
        try:
            for item in it:
                with ready:
                    slot[:] = [item]
                    ready.notify()
                if stop.is_set():
                    break
        except BaseException as exc:  # handed to the consumer, which raises it
            end = _Failure(exc)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
            with ready:
                ended.append(end)
                ready.notify()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            with ready:
                while not slot and not ended:
                    ready.wait(_POLL_S)
                if slot:
                    item = slot.pop()
                elif isinstance(ended[0], _Failure):
                    raise ended[0].exc
                else:
                    return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


def timed(items: Iterable[T]) -> Iterator[tuple[T, float, float]]:
    """(item, perf_counter when getting it started, ms it took) for each item."""
    it = iter(items)
    while True:
        start = time.perf_counter()
        item = next(it, None)
        if item is None:
            return
        yield item, start, (time.perf_counter() - start) * 1e3


def staged(
    frames: Iterable[T], infer: Callable[[T, float], S], overlap: bool, live: bool = False
) -> Iterator[tuple[T, float, float, S]]:
    """(frame, capture start, capture ms, ``infer(frame, capture ms)``) per frame, in order:
    the first two stages of a frame loop, whose caller draws and writes each. ``overlap``:
    capture ("decode" thread) and inference ("infer" thread) run ahead of the caller, else
    everything runs in the caller's thread. ``live`` (a camera): overlapped, the newest
    frame is inferred (``latest``: stale frames are skipped) and one inferred frame at most
    waits for the caller, so that frames do not age in queues. Closing the iterator stops
    both threads."""
    captured = timed(frames)
    if overlap:
        captured = latest(captured, "decode") if live else prefetch(captured, name="decode")
    inferred = ((f, t0, ms, infer(f, ms)) for f, t0, ms in captured)
    if overlap:
        inferred = prefetch(inferred, depth=1 if live else 2, name="infer")
    try:
        yield from inferred
    finally:  # explicitly, outer stage first: each close joins its thread
        inferred.close()
        captured.close()
