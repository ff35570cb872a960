"""MeshPoseNet checkpoints: safetensors weights + a JSON model card in the file's metadata.

Loading never unpickles (safetensors only) and checks, before touching the weights, that the
file is a MeshPose checkpoint made for this topology version, then that every tensor has the
shape its config needs and finite values; every failure is one ``CheckpointError`` saying
what is wrong with which file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from meshpose_core.resources import weights_path
from meshpose_core.topology import FORMAT_VERSION

from .meshpose import MeshPoseConfig, MeshPoseNet

ARCHITECTURE = "meshpose"
WEIGHTS_DIR = weights_path()
PRESET_NAMES = ("xs", "s", "l", "xs_bp")
# The model the product ships weights for (XS-sized, on BlazePose-full's pretrained features):
# every default (CLI, Python API, export) points at it.
DEFAULT_MODEL = "xs_bp"


class CheckpointError(RuntimeError):
    """A weights file is missing, corrupt, or made for another architecture or topology."""


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file (weights identity: keys exported ONNX / TFLite files)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_weights(name_or_path: str | Path) -> Path:
    """'xs' / 's' / 'l' -> weights/meshpose_<name>.safetensors; anything else is a path."""
    if str(name_or_path).lower() in PRESET_NAMES:
        return WEIGHTS_DIR / f"meshpose_{str(name_or_path).lower()}.safetensors"
    return Path(name_or_path)


def half_if_exact(tensor: torch.Tensor) -> torch.Tensor:
    """A float32 tensor (any shape) as float16 of the same shape when that loses nothing
    (the BlazePose layers are fp16 at source: 3 MB less on disk); loading casts back to the
    network's float32."""
    if tensor.dtype != torch.float32:
        return tensor
    half = tensor.half()
    return half if torch.equal(half.float(), tensor) else tensor


def save_checkpoint(net: MeshPoseNet, path: Path, card: dict[str, Any]) -> None:
    """Weights + metadata (architecture, config, topology version, card); also writes the card
    beside the weights as <name>.json for people to read."""
    from safetensors.torch import save_file

    meta = {
        "architecture": ARCHITECTURE,
        "config": json.dumps(net.cfg.to_dict()),
        "topology_version": str(FORMAT_VERSION),
        "card": json.dumps(card),
    }
    state = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    head = net.regression_head
    if head.xy_droppable():
        # XY the prior's: the zero x, y paths (9 MB of the shipped file) are not stored;
        # load_checkpoint gives such a file a depth-only head (net unchanged here: training)
        for name, rows in head.depth_rows().items():
            for part in ("weight", "bias"):
                key = f"regression_head.{name}.{part}"
                state[key] = state[key][rows].contiguous()
    state = {k: half_if_exact(v) for k, v in state.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), meta)
    path.with_suffix(".json").write_text(
        json.dumps({"config": net.cfg.to_dict(), **card}, indent=1) + "\n"
    )


def read_metadata(path: Path) -> dict[str, str]:
    """The safetensors header metadata; CheckpointError if the file is missing or corrupt."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise CheckpointError(f"weights not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"weights file {path} is corrupt or not safetensors: {exc}") from exc


def config_from_metadata(path: Path, meta: dict[str, str]) -> MeshPoseConfig:
    """The config stored in a checkpoint's metadata (``read_metadata``); CheckpointError if
    it is missing or unreadable."""
    try:
        return MeshPoseConfig.from_dict(json.loads(meta["config"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} has an unreadable model config: {exc}") from exc


def load_checkpoint(
    path: Path, device: str | torch.device = "cpu", for_training: bool = False
) -> tuple[MeshPoseNet, dict]:
    """-> (network in eval mode on ``device``, model card). A file saved with its zero x, y
    regression paths dropped (``save_checkpoint``) gives a depth-only regression head;
    ``for_training`` restores them (as zeros), the layout a training run's network has."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta = read_metadata(path)
    if meta.get("architecture") != ARCHITECTURE:
        raise CheckpointError(
            f"{path} is not a MeshPose checkpoint (architecture {meta.get('architecture')!r})"
        )
    if meta.get("topology_version") != str(FORMAT_VERSION):
        raise CheckpointError(
            f"{path} was trained for topology version {meta.get('topology_version')}, this "
            f"code uses version {FORMAT_VERSION}: use matching weights or retrain"
        )
    cfg = config_from_metadata(path, meta)
    try:
        card = json.loads(meta.get("card", "{}"))
    except ValueError as exc:
        raise CheckpointError(f"{path} has an unreadable model card: {exc}") from exc
    net = MeshPoseNet(cfg, init_prior=False)  # prior buffers are in the state dict
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"weights file {path} is corrupt: {exc}") from exc
    head = net.regression_head
    psi = state.get("regression_head.psi.weight")
    if psi is not None and head.extra_channels and psi.shape[0] * 3 == head.psi.out_features:
        head.keep_depth_only()  # saved with its zero x, y paths dropped (save_checkpoint)
    check_state(path, state, net.state_dict())
    net.load_state_dict(state)
    if for_training:
        net.regression_head.restore_xy()
    return net.to(device).eval(), card


def check_state(
    path: Path, state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]
) -> None:
    """CheckpointError (one line, naming the first offending tensor) unless ``state`` has
    exactly the tensors of ``expected`` (any shape) with their shapes, all finite: a file
    whose config and tensors disagree, or whose weights hold NaN / infinity (a diverged
    training run), must not load and produce silent garbage."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not match its config: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for name, want in expected.items():
        got = state[name]
        if tuple(got.shape) != tuple(want.shape):
            raise CheckpointError(
                f"{path}: tensor {name} has shape {tuple(got.shape)}, its config needs "
                f"{tuple(want.shape)}"
            )
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise CheckpointError(f"{path}: tensor {name} holds NaN or infinite values")
