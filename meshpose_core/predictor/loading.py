"""Which backend runs the network, and loading it: ``load_predictor(config)``.

Backends: ``torch`` (CUDA in fp16 when available, else CPU), ``onnx`` (onnxruntime, CPU) and
``litert`` (LiteRT's XNNPACK, CPU, from an exported ``.tflite``). ``auto`` takes torch on a
CUDA machine; on a CPU, LiteRT when a ``.tflite`` made from these very weights exists (next
to them, as shipped, or in the cache; XS-BP on two cores: 3.0 ms vs 5.6 ms in onnxruntime
and ~10 ms in eager PyTorch), else onnxruntime. The ONNX graph is exported once per weights
file into a cache keyed by the file's SHA-256, so new weights are picked up automatically;
new weights run on onnxruntime until ``python -m meshpose_core.export --format tflite``
(needs litert-torch) makes their ``.tflite``.

The predictor's own CPU choices apply (compiled upsampling, onnxruntime threads that sleep
instead of spinning; torch keeps one thread beside onnxruntime or LiteRT).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from meshpose_core.model.checkpoint import (
    DEFAULT_MODEL,
    PRESET_NAMES,
    CheckpointError,
    config_from_metadata,
    file_sha256,
    read_metadata,
    resolve_weights,
)

from .base import Predictor

BACKENDS: tuple[str, ...] = ("auto", "torch", "onnx", "litert")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


class ModelUnavailable(RuntimeError):  # noqa: N818 - reads as a state, like the renderer's
    """The chosen model's weights do not exist (yet); the message says how to get them."""


@dataclass(frozen=True)
class NetworkConfig:
    model: str = DEFAULT_MODEL  # preset name (weights/meshpose_<name>.safetensors) or a path
    device: str = "auto"
    backend: str = "auto"
    want_iuv: bool = False  # the network's own dense IUV per crop (costly on CPU)
    # the person's outline (the body widened by the weights' outline_scales, clothes and
    # hair included: what silhouettes, IUV and boxes are drawn from); False: the body surface
    outline: bool = True
    threads: int = 2
    cache_dir: str | None = None  # ONNX cache; default $MESHPOSE_CACHE or ~/.cache/meshpose


def model_path(model: str) -> Path:
    """Resolve ``--model`` and check the file exists; ``ModelUnavailable`` if not."""
    path = resolve_weights(model)
    if path.is_file():
        return path
    if str(model).lower() in PRESET_NAMES:
        raise ModelUnavailable(
            f"no trained weights for MeshPose-{model.upper()} yet (expected {_shown(path)}): "
            f"put a trained checkpoint there (training: python -m meshpose_core.train, see "
            f"docs/training.md) or pass --model PATH to a .safetensors checkpoint"
        )
    raise ModelUnavailable(f"model file not found: {path}")


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is below it (shorter messages)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def cache_dir(configured: str | None) -> Path:
    """The first writable of: configured, $MESHPOSE_CACHE, ~/.cache/meshpose, a temp dir."""
    home_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "meshpose"
    candidates = [configured, os.environ.get("MESHPOSE_CACHE"), home_cache]
    for c in candidates:
        if c:
            try:
                Path(c).mkdir(parents=True, exist_ok=True)
                if os.access(c, os.W_OK):
                    return Path(c)
            except OSError:
                continue
    fallback = Path(tempfile.gettempdir()) / "meshpose-cache"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def cached_onnx(weights: Path, want_iuv: bool, directory: Path, sha256: str | None = None) -> Path:
    """Export ``weights`` to ONNX once; later calls return the cached file. ``sha256``: the
    weights' hash if the caller has it (hashing reads the whole file)."""
    from meshpose_core.export import EXPORT_VERSION, export_onnx
    from meshpose_core.model.checkpoint import load_checkpoint

    key = (sha256 or file_sha256(weights))[:20]
    kind = "iuv" if want_iuv else "mesh"
    out = directory / f"meshpose_{key}_v{EXPORT_VERSION}_{kind}.onnx"
    if out.is_file():
        return out
    net, _ = load_checkpoint(weights)
    tmp = out.with_name(f"{out.stem}.{os.getpid()}.tmp.onnx")
    try:
        export_onnx(net, tmp, want_iuv)
        os.replace(tmp, out)  # atomic: a concurrent run sees either nothing or the whole file
    finally:
        tmp.unlink(missing_ok=True)
    return out


def tflite_for(weights: Path, directory: Path, sha256: str | None = None) -> Path | None:
    """The ``.tflite`` exported from ``weights`` by this code: next to them (shipped) or in
    the cache ``directory``; None if there is none (LiteRT cannot run these weights yet).
    ``sha256`` as in ``cached_onnx``."""
    from meshpose_core.export import EXPORT_VERSION, tflite_sidecar_matches

    if weights.suffix == ".tflite":
        return weights
    sha = sha256 or file_sha256(weights)
    cached = directory / f"meshpose_{sha[:20]}_v{EXPORT_VERSION}_mesh.tflite"
    for candidate in (weights.with_suffix(".tflite"), cached):
        if tflite_sidecar_matches(candidate, sha):
            return candidate
    return None


def outline_scales(weights: Path) -> tuple[float, ...]:
    """The ``outline_scales`` in a checkpoint's config; for a ``.tflite`` given directly,
    those its export sidecar records; () for an ``.onnx`` (it draws the body)."""
    from meshpose_core.export import sidecar_outline_scales

    if weights.suffix == ".tflite":
        return sidecar_outline_scales(weights)
    if weights.suffix == ".onnx":
        return ()
    return config_from_metadata(weights, read_metadata(weights)).outline_scales


def pick_backend(backend: str, device: str, tflite: bool = False) -> str:
    """'auto' -> torch on CUDA, else litert when ``tflite`` (one exists for the weights),
    else onnx; checks the combination is possible."""
    import torch

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of {DEVICES}")
    if backend in ("onnx", "litert") and device == "cuda":
        raise ValueError(f"the {backend} backend runs on the CPU: use --backend torch for CUDA")
    cuda = torch.cuda.is_available()
    if device == "cuda" and not cuda:
        raise ValueError("--device cuda: no CUDA GPU is available (use --device cpu or auto)")
    if backend == "auto":
        if cuda and device != "cpu":
            return "torch"
        return "litert" if tflite else "onnx"
    return backend


def load_predictor(config: NetworkConfig) -> Predictor:
    """The predictor ``config`` asks for (its ``backend`` says which ran: ``auto``
    resolved); ``ModelUnavailable`` with what to do when it cannot run."""
    import torch

    path = model_path(config.model)
    directory = cache_dir(config.cache_dir)
    # the weights' identity, read once for both runtimes' exported files
    sha = None if path.suffix in (".onnx", ".tflite") else file_sha256(path)
    tflite = None
    if not config.want_iuv and path.suffix != ".onnx":  # the TFLite graph has no IUV
        tflite = tflite_for(path, directory, sha)
    backend = pick_backend(config.backend, config.device, tflite is not None)
    if path.suffix == ".tflite" and (backend != "litert" or config.want_iuv):
        raise ModelUnavailable(
            f"{_shown(path)} is a TFLite model: it runs only on the litert backend, "
            "without IUV output (pass the .safetensors weights for other backends)"
        )
    if backend == "litert" and config.want_iuv:
        raise ModelUnavailable(
            "the LiteRT model has no IUV output: use --backend onnx or torch for IUV"
        )
    if backend == "litert" and tflite is None:
        raise ModelUnavailable(
            f"no LiteRT model for {_shown(path)}: export one (python -m "
            "meshpose_core.export --format tflite, needs litert-torch) or use --backend onnx"
        )
    try:
        # exported graphs do not carry the outline scales: read them from the weights
        scales = outline_scales(path) if config.outline and backend != "torch" else ()
        model: Predictor
        if backend == "litert":
            from .litert import LiteRtMeshPose

            assert tflite is not None
            model = LiteRtMeshPose(tflite, config.threads, scales)
        elif path.suffix == ".onnx" or backend == "onnx":
            from .onnx import OnnxMeshPose

            onnx = path
            if path.suffix != ".onnx":
                onnx = cached_onnx(path, config.want_iuv, directory, sha)
            model = OnnxMeshPose(onnx, config.threads, scales)
        else:
            from .torch import MeshPose

            model = MeshPose.from_pretrained(path, config.device, config.outline)
    except CheckpointError as exc:
        raise ModelUnavailable(str(exc)) from exc
    if model.backend == "torch":
        torch.set_num_threads(config.threads)
    else:  # torch only upsamples here: more threads would spin against the runtime's
        torch.set_num_threads(1)
    return model
