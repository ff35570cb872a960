"""Output paths: checked before the first frame, written under a temporary name, renamed when
complete.

A run must never destroy what the user already has: an output that names an input (or the
folder an input's name would be written into), two outputs that name the same file, a file
output that names an existing folder (or the reverse) and a folder that cannot be written
are all refused by ``check_outputs`` before anything is opened, with one ``OutputPathError``
line. Sinks write to ``partial_path(path)`` in the same folder and ``finish`` renames it to
``path`` when the file is complete (at the end, on an error or on Ctrl-C / SIGTERM), so the
final name never holds a half-written file; a hard kill (SIGKILL, power loss) leaves the
``.partial`` file, which the fragmented MP4 and the always-closed JSON keep readable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PARTIAL = ".partial"


class OutputPathError(ValueError):
    """An output path would destroy a file or cannot be written; one line for the user."""


@dataclass(frozen=True)
class Output:
    """One requested output. kind: a single ``file`` or a ``folder`` of files; option: what
    the user typed it after (for messages); suffixes (lower case): for a file those allowed
    (empty: any), for a folder those refused (a folder named like a file is a slip);
    input_names: the folder receives files named like the inputs (annotated images), so it
    must not be a folder an input is in."""

    path: Path
    kind: Literal["file", "folder"]
    option: str
    suffixes: tuple[str, ...] = ()
    input_names: bool = False


def partial_path(path: Path) -> Path:
    """Where ``path`` is written until complete: ``name.partial.ext`` in the same folder (the
    suffix kept, so players and parsers recognise a file a hard kill left behind)."""
    return path.with_name(f"{path.stem}{PARTIAL}{path.suffix}")


def finish(partial: Path, path: Path) -> None:
    """Give a complete file its final name (atomic: readers see the old or the new file)."""
    os.replace(partial, path)


class _PathSet:
    """Paths compared as files: equal once resolved (symlinks, ``..``) or, where they exist,
    the same inode (hard links, case-insensitive file systems). Built once: an image folder
    can hold thousands of inputs."""

    def __init__(self) -> None:
        self._resolved: dict[Path, str] = {}
        self._inodes: dict[tuple[int, int], str] = {}

    def add(self, path: Path, label: str) -> None:
        self._resolved.setdefault(path.resolve(), label)
        try:
            st = path.stat()
        except OSError:  # does not exist (yet)
            return
        self._inodes.setdefault((st.st_dev, st.st_ino), label)

    def find(self, path: Path) -> str | None:
        """The label of the path ``path`` names, if any."""
        label = self._resolved.get(path.resolve())
        if label is not None:
            return label
        try:
            st = path.stat()
        except OSError:
            return None
        return self._inodes.get((st.st_dev, st.st_ino))


def _writable_ancestor(path: Path) -> Path:
    """The nearest existing folder at or above ``path`` (where the first new folder or file
    is created); OutputPathError if that is a file or not writable."""
    probe = path.resolve()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputPathError(f"{probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputPathError(f"folder {probe} is not writable")
    return probe


def check_outputs(inputs: Iterable[Path], outputs: Sequence[Output]) -> None:
    """Refuse outputs that would overwrite an input or each other, or cannot be written.

    inputs: every input file or folder (an image folder and each image in it). Raises
    ``OutputPathError`` naming the option and the path; touches nothing."""
    sources, holders, taken = _PathSet(), _PathSet(), _PathSet()
    for source in map(Path, inputs):
        sources.add(source, str(source))
        if source.is_file():  # its folder would receive its annotated image
            holders.add(source.parent, str(source))
    for out in outputs:
        path, what = Path(out.path), f"{out.option} {out.path}"
        if out.kind == "file":
            if path.is_dir():
                raise OutputPathError(f"{what} is an existing folder: name a file")
            if out.suffixes and path.suffix.lower() not in out.suffixes:
                raise OutputPathError(f"{what}: must be a {' or '.join(out.suffixes)} file")
            claimed = (path, partial_path(path))
        else:
            if path.exists() and not path.is_dir():
                raise OutputPathError(f"{what} is an existing file: name a folder")
            if out.suffixes and path.suffix.lower() in out.suffixes:
                raise OutputPathError(f"{what}: must be a folder, not a {path.suffix} file")
            claimed = (path,)
        for c in claimed:
            if sources.find(c) is not None:
                raise OutputPathError(f"{what} is an input: it would be overwritten")
            held = holders.find(c) if out.input_names else None
            if held is not None:
                raise OutputPathError(
                    f"{what} holds the input {held}: its annotated image would replace it "
                    "(choose another folder)"
                )
            other = taken.find(c)
            if other is not None:
                raise OutputPathError(f"{what} is also the output of {other}")
        try:
            _writable_ancestor(path if out.kind == "folder" else path.parent)
        except OutputPathError as exc:
            raise OutputPathError(f"{what}: cannot write there: {exc}") from None
        for c in claimed:
            taken.add(c, out.option)


def unique_stems(names: Sequence[str]) -> dict[str, str]:
    """File name -> the stem output files are named after: the stem, or ``stem_ext`` where
    two inputs share a stem (``x.jpg`` and ``x.png`` -> ``x_jpg``, ``x_png``)."""
    stems = [Path(n).stem for n in names]
    return {
        n: s if stems.count(s) == 1 else f"{s}_{Path(n).suffix.lstrip('.').lower()}"
        for n, s in zip(names, stems, strict=True)
    }
