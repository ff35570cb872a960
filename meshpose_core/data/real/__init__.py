"""Real training data: LSP joints, BlazePose teacher labels on shared media, crops for training.

The images live in ``../shared`` (not in the repo); ``data/real/*.npz`` holds our labels. See
``data/real/README.md`` for provenance, filters and the held-out evaluation sets.
"""

from .crop import CropParams
from .dataset import RandomCrop, RealDataset, RealDatasetConfig, collate
from .joints import COCO_FLIP, COCO_NAMES, LSP_TO_COCO, map_to_coco
from .labels import PersonLabels, load_labels, save_labels
from .lsp import EVAL_RANGE, LspSet, load_lsp
from .paths import DEFAULT_SHARED_ROOT, SharedDataMissingError
from .teacher import BlazePoseLandmarker, TeacherConfig, TeacherOutput

__all__ = [
    "COCO_FLIP",
    "COCO_NAMES",
    "DEFAULT_SHARED_ROOT",
    "EVAL_RANGE",
    "LSP_TO_COCO",
    "BlazePoseLandmarker",
    "CropParams",
    "LspSet",
    "PersonLabels",
    "RandomCrop",
    "RealDataset",
    "RealDatasetConfig",
    "SharedDataMissingError",
    "TeacherConfig",
    "TeacherOutput",
    "collate",
    "load_labels",
    "load_lsp",
    "map_to_coco",
    "save_labels",
]
