"""prefetch: order, errors at the item where they happened, clean shutdown on early close,
argument checks and chaining."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from meshpose_core.pipeline.prefetch import prefetch

WAIT_S = 3.0  # upper bound for a background thread to finish; the tests poll


def alive(name: str) -> bool:
    return any(t.name == name for t in threading.enumerate())


def wait_until(condition, timeout: float = WAIT_S) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; its final value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Source:
    """A counting generator that records what ran where, and whether it was closed."""

    def __init__(self, n: int | None = None, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        self.produced = 0
        self.closed = False
        self.threads: set[str] = set()

    def __iter__(self) -> Iterator[int]:
        try:
            i = 0
            while self.n is None or i < self.n:
                self.threads.add(threading.current_thread().name)
                if i == self.fail_at:
                    raise KeyError(f"source failed at {i}")
                self.produced += 1
                yield i
                i += 1
        finally:
            self.closed = True


def test_order_is_kept_and_the_source_runs_in_the_named_thread() -> None:
    src = Source(200)
    assert list(prefetch(iter(src), depth=3, name="pf-order")) == list(range(200))
    assert src.threads == {"pf-order"}
    assert src.closed
    assert wait_until(lambda: not alive("pf-order"))


def test_plain_iterables_and_empty_sources() -> None:
    assert list(prefetch([3, 1, 2], depth=1)) == [3, 1, 2]
    assert list(prefetch([], name="pf-empty")) == []
    assert list(prefetch((c for c in "abc"), depth=5)) == ["a", "b", "c"]


def test_runs_ahead_by_at_most_depth_items() -> None:
    """While the consumer holds item 0 the thread fills the buffer (depth items) and holds
    one more it cannot hand over yet; it never runs further ahead."""
    depth = 3
    src = Source()  # endless
    it = prefetch(iter(src), depth=depth, name="pf-ahead")
    assert next(it) == 0
    assert wait_until(lambda: src.produced == depth + 2)
    time.sleep(0.2)  # give a runaway producer the chance to show itself
    assert src.produced == depth + 2
    assert [next(it) for _ in range(4)] == [1, 2, 3, 4]
    it.close()
    assert src.closed and not alive("pf-ahead")


def test_source_exception_is_raised_after_the_items_before_it() -> None:
    src = Source(10, fail_at=4)
    got = []
    with pytest.raises(KeyError, match="source failed at 4"):
        for item in prefetch(iter(src), depth=2, name="pf-fail"):
            got.append(item)
    assert got == [0, 1, 2, 3]
    assert src.closed
    assert wait_until(lambda: not alive("pf-fail"))


def test_exception_at_the_first_item() -> None:
    with pytest.raises(KeyError, match="failed at 0"):
        next(prefetch(iter(Source(5, fail_at=0)), name="pf-fail0"))
    assert wait_until(lambda: not alive("pf-fail0"))


def test_break_stops_the_thread_and_closes_the_source() -> None:
    src = Source()  # endless: only closing can end it
    for item in prefetch(iter(src), depth=2, name="pf-break"):
        if item == 5:
            break
    assert wait_until(lambda: not alive("pf-break"))
    assert src.closed
    produced = src.produced
    time.sleep(0.1)
    assert src.produced == produced  # nothing runs on after the close


def test_close_of_a_consuming_generator_stops_the_thread() -> None:
    src = Source()

    def consumer() -> Iterator[int]:
        for item in prefetch(iter(src), depth=2, name="pf-close"):
            yield item * 10

    gen = consumer()
    assert [next(gen) for _ in range(3)] == [0, 10, 20]
    assert alive("pf-close")
    gen.close()
    # close() returns after the thread was joined and the source closed
    assert not alive("pf-close")
    assert src.closed


def test_close_before_the_first_item_is_fine() -> None:
    it = prefetch(iter(Source()), name="pf-unstarted")
    it.close()  # the generator never started: no thread to stop
    assert not alive("pf-unstarted")


@pytest.mark.parametrize("depth", [0, -1])
def test_depth_below_one_is_rejected(depth: int) -> None:
    with pytest.raises(ValueError, match="depth"):
        prefetch([1, 2, 3], depth=depth)  # at the call, before any iteration


def test_chained_prefetch_yields_everything_in_order() -> None:
    src = Source(100)
    first = prefetch(iter(src), depth=2, name="pf-stage1")
    doubled = (x * 2 for x in first)
    assert list(prefetch(doubled, depth=3, name="pf-stage2")) == [2 * i for i in range(100)]
    assert src.closed
    assert wait_until(lambda: not alive("pf-stage1") and not alive("pf-stage2"))


def test_chained_prefetch_closes_both_stages_and_the_source() -> None:
    src = Source()
    seen = []
    for item in prefetch(
        (x + 1 for x in prefetch(iter(src), name="pf-chain1")), depth=2, name="pf-chain2"
    ):
        seen.append(item)
        if len(seen) == 7:
            break
    assert seen == list(range(1, 8))
    assert wait_until(lambda: not alive("pf-chain1") and not alive("pf-chain2"))
    assert src.closed


def test_chained_prefetch_passes_an_exception_through_both_stages() -> None:
    src = Source(10, fail_at=6)
    chained = prefetch((x for x in prefetch(iter(src), name="pf-err1")), name="pf-err2")
    got = []
    with pytest.raises(KeyError, match="failed at 6"):
        for item in chained:
            got.append(item)
    assert got == list(range(6))
    assert wait_until(lambda: not alive("pf-err1") and not alive("pf-err2"))


def test_latest_skips_items_replaced_before_the_consumer_asks() -> None:
    """A slow consumer of a live source gets the newest item each time, in order, never an
    older one after a newer; a fast one gets (nearly, on a loaded machine) all of them;
    errors and closing as ``prefetch``."""
    from meshpose_core.pipeline.prefetch import latest

    def camera(n: int, period: float):
        for i in range(n):
            time.sleep(period)
            yield i

    fast = list(latest(camera(10, 0.02)))
    assert fast == sorted(set(fast)) and fast[-1] == 9 and len(fast) >= 5  # most, in order
    got = []
    for item in latest(camera(40, 0.005)):
        got.append(item)
        time.sleep(0.03)  # six camera periods a frame
    assert got == sorted(set(got)) and got[-1] == 39  # the newest each time, in order
    assert len(got) < 30  # items replaced while the consumer was busy were skipped

    def broken():
        yield 1
        raise ValueError("camera unplugged")

    with pytest.raises(ValueError, match="unplugged"):
        list(latest(broken()))
    it = latest(camera(1000, 0.002))
    assert next(it) == 0
    it.close()  # stops and joins the thread
    assert not [t for t in threading.enumerate() if t.name == "capture"]
