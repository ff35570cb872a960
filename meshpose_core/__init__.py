"""MeshPose Live core library: topology, model, decoding, training and pipeline."""

__version__ = "0.1.0"
