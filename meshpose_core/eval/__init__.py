"""Evaluation on held-out real images: PCK of COCO joints, silhouette IoU, benchmark readers.

Only the pure metrics are imported here (the data pipeline uses them); the benchmark readers,
crop modes, model wrappers and runner are imported from their modules.
"""

from .pck import DEFAULT_ALPHA, PckResult, box_size, pck, pck_hits
from .silhouette import silhouette_iou

__all__ = ["DEFAULT_ALPHA", "PckResult", "box_size", "pck", "pck_hits", "silhouette_iou"]
