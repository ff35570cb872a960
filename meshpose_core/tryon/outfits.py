"""Outfits: which garments each person of a video wears.

An outfit is a tuple of garment specs (names or paths, see ``registry``), written on the
command line as ``a+b`` (``striped_tshirt+flared_skirt``). With several outfits, people take
them in turn in the order they appear: the k-th track seen wears ``outfits[k % n]``, and keeps
it for as long as it lives (ids are never reused, so a track cannot take another's outfit).
"""

from __future__ import annotations

from collections.abc import Sequence

from .garment import Garment, GarmentError
from .registry import GarmentLibrary, shared_library

OUTFIT_SEPARATOR = "+"

Outfit = tuple[str, ...]


def parse_outfit(spec: str) -> Outfit:
    """``"striped_tshirt+flared_skirt"`` -> ("striped_tshirt", "flared_skirt")."""
    parts = tuple(p.strip() for p in spec.split(OUTFIT_SEPARATOR))
    if not spec.strip() or not all(parts):
        raise GarmentError(
            f"empty garment in outfit {spec!r}: give NAME or PATH, several joined by "
            f"{OUTFIT_SEPARATOR!r}"
        )
    return parts


def format_outfit(outfit: Sequence[str]) -> str:
    """The command-line form of an outfit (``parse_outfit``'s inverse)."""
    return OUTFIT_SEPARATOR.join(outfit)


def load_outfits(
    outfits: Sequence[Sequence[str]], library: GarmentLibrary | None = None
) -> tuple[tuple[Garment, ...], ...]:
    """Every garment of every outfit, loaded (``GarmentError`` on the first bad one)."""
    lib = library or shared_library()
    loaded = tuple(tuple(lib.load(spec) for spec in outfit) for outfit in outfits)
    if any(not outfit for outfit in loaded):
        raise GarmentError("an outfit needs at least one garment")
    return loaded


class OutfitCycle:
    """Gives each track an outfit index on first sight: 0, 1, 2, ... in order of appearance
    (tracks that appear together: by id). ``reset`` when track ids start again (a new input).
    """

    def __init__(self) -> None:
        self._index: dict[int, int] = {}
        self._next = 0

    def assign(self, track_ids: Sequence[int], count: int) -> list[int]:
        """The outfit index in [0, count) of each track. Tracks are remembered until
        ``reset`` (a track that drops out for a frame comes back in its own outfit)."""
        for track in sorted(set(track_ids) - self._index.keys()):
            self._index[track] = self._next
            self._next += 1
        return [self._index[t] % max(count, 1) for t in track_ids]

    def reset(self) -> None:
        self._index.clear()
        self._next = 0
