"""``Closeable``: the one context-manager base of every resource the pipeline opens
(sources, sinks, rasterizers): ``with`` closes it, ``close`` may be called more than once."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

_T = TypeVar("_T", bound="Closeable")


class Closeable:
    def close(self) -> None:
        """Release what the object holds."""

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
