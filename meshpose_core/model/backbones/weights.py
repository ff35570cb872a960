"""Loading and saving backbone weights as safetensors (our own checkpoints only)."""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import nn


class WeightsMismatchError(RuntimeError):
    """A checkpoint's tensors do not match the module's parameters and buffers."""


def _summarise(keys: list[str], limit: int = 20) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_backbone_weights(module: nn.Module, path: str | Path, prefix: str = "") -> None:
    """Strictly load ``path`` into ``module``.

    ``prefix`` selects a sub-tree of a larger checkpoint (e.g. "backbone." of a full
    MeshPoseNet file). Raises WeightsMismatchError naming every missing, unexpected or
    wrongly shaped tensor, so a checkpoint from another architecture never half-loads.
    """
    tensors = {k[len(prefix) :]: v for k, v in load_file(str(path)).items() if k.startswith(prefix)}
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong_shape = sorted(
        f"{k} {tuple(tensors[k].shape)} vs {tuple(expected[k].shape)}"
        for k in set(expected) & set(tensors)
        if tensors[k].shape != expected[k].shape
    )
    problems = [
        f"{label} ({len(keys)}): {_summarise(keys)}"
        for label, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape mismatch", wrong_shape),
        )
        if keys
    ]
    if problems:
        raise WeightsMismatchError(
            f"{path} does not fit {type(module).__name__}: " + "; ".join(problems)
        )
    module.load_state_dict(tensors, strict=True)


def save_backbone_weights(module: nn.Module, path: str | Path) -> None:
    """Write ``module``'s state dict (parameters and buffers) to a safetensors file."""
    state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(path))
