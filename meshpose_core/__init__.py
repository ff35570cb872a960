"""MeshPose Live core library: topology, model, decoding, training and pipeline."""

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["LiveResult", "MeshPoseLive", "Person", "__version__"]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time imported on first use below
    from meshpose_core.live import LiveResult, MeshPoseLive, Person


def __getattr__(name: str) -> object:
    """``meshpose_core.MeshPoseLive``: the one-call API, imported on first use (it loads the
    whole pipeline; the topology or training code alone should not)."""
    if name in ("LiveResult", "MeshPoseLive", "Person"):
        from meshpose_core import live

        return getattr(live, name)
    raise AttributeError(f"module 'meshpose_core' has no attribute {name!r}")
