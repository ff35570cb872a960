"""Where the shipped data lives: ``assets/`` and ``weights/`` as package data.

Both folders are found through ``importlib.resources`` under ``meshpose_core/_data``: in a
checkout ``_data/assets`` and ``_data/weights`` are links to the repository's top-level
folders, in an installed wheel they are the copied files, so the same paths work for
``pip install .``, ``pip install -e .`` and ``python run_demo.py``. Files must be plain
files on disk (OpenCV, PyAV and LiteRT open them by name): zipped installs are not supported.
Training data (``data/``) is not package data: training runs from a checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _data(folder: str) -> Path:
    """The folder, links resolved: in a checkout the repository's own (so messages name
    ``weights/...``, not the link)."""
    return Path(str(files("meshpose_core").joinpath("_data", folder))).resolve()


def asset_path(*parts: str) -> Path:
    """A path below the shipped ``assets/`` folder (the folder itself without ``parts``)."""
    return _data("assets").joinpath(*parts)


def weights_path(*parts: str) -> Path:
    """A path below the shipped ``weights/`` folder (the folder itself without ``parts``)."""
    return _data("weights").joinpath(*parts)
