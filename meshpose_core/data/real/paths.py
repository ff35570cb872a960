"""Where the real media live (``../shared``, outside the repo) and which of them are held out.

The images are research/testing-only material: the repo stores only our labels and paths
relative to the shared root, so every loader needs that root and must say so when it is absent
(CI and end users have no ``../shared``).
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SHARED_ROOT = REPO_ROOT.parent / "shared"
LABEL_DIR = REPO_ROOT / "data" / "real"
# Held out for evaluation, never labelled for training: every human-annotated image, and the
# LSP evaluation split (see ``lsp.py``).
HELD_OUT_PREFIXES: tuple[str, ...] = ("media/annotated/",)
# Whole clips of ``train/videos`` held out from training (never frames of a trained clip): a
# slow and a fast dancer, a fashion turntable, tai chi, kung fu, a two-person hug and a crowded
# street. Their fitted frames are the held-out real set of ``bench surface``.
HELD_OUT_VIDEOS: tuple[str, ...] = (
    "train/videos/tiktok_dance_6.mp4",
    "train/videos/ubcfashion_catwalk_3.mp4",
    "train/videos/stgcn_kinetics_taichi_forest.mp4",
    "train/videos/motionx_shaolin_kungfu.mp4",
    "train/videos/mmaction_ntu_two_person_hug.mp4",
    "train/videos/yolov4ds_tokyo_street_walk.mp4",
    "train/videos/askanything_kinetics_yoga.mp4",
)


class SharedDataMissingError(FileNotFoundError):
    """The shared media folder (real images, teacher models) is not on this machine."""


def require_shared_root(root: Path | str) -> Path:
    """-> ``root`` as a Path, or SharedDataMissingError saying what is missing and how to fix it."""
    root = Path(root)
    if not root.is_dir():
        raise SharedDataMissingError(
            f"real-data root {root} not found: the real images are not part of the repo; they "
            f"live in the shared folder beside the checkout (../shared). Pass its location "
            f"(RealDatasetConfig(shared_root=...) or --shared-root) or train without real data."
        )
    return root


def is_held_out(relative_path: str) -> bool:
    """True for media reserved for evaluation (path relative to the shared root)."""
    path = relative_path.replace("\\", "/")
    return path.startswith(HELD_OUT_PREFIXES) or path in HELD_OUT_VIDEOS
