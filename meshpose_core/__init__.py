"""MeshPose Live core library: topology, model, decoding, training and pipeline."""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``meshpose_core.MeshPoseLive``: the one-call API, imported on first use (it loads the
    whole pipeline; the topology or training code alone should not)."""
    if name in ("MeshPoseLive", "Person", "LiveResult"):
        from meshpose_core import live

        return getattr(live, name)
    raise AttributeError(f"module 'meshpose_core' has no attribute {name!r}")
