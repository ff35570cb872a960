"""Evaluation on held-out real images: eval-set readers, crop modes, keypoint models, PCK of
COCO joints and silhouette IoU.

The PCK arithmetic itself is ``meshpose_core.pck``, below the data pipeline, which uses it
to judge teacher labels. Only silhouette IoU is imported here; the eval sets
(``eval_sets``), crop modes, model wrappers and runner are imported from their modules.
"""

from .silhouette import silhouette_iou

__all__ = ["silhouette_iou"]
