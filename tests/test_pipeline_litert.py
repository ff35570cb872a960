"""The LiteRT (TFLite, XNNPACK) backend: chosen on a CPU when a ``.tflite`` made from these
very weights exists, agrees with onnxruntime on real person crops, refuses what it cannot
run (IUV, corrupt or stale files) clearly, and the export and CLI options around it."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from meshpose_app.cli import main as cli_main
from meshpose_core.detection import BlazePoseDetector
from meshpose_core.export import (
    EXPORT_VERSION,
    ConverterUnavailable,
    export_tflite,
    sidecar,
    tflite_sidecar_matches,
)
from meshpose_core.export import main as export_main
from meshpose_core.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet
from meshpose_core.pipeline import VideoSink, crop_transform, warp_crops
from meshpose_core.pipeline.network import (
    ModelUnavailable,
    Network,
    NetworkConfig,
    file_sha256,
    tflite_for,
)
from meshpose_core.pipeline.sources import read_image
from meshpose_core.predictor import LiteRtMeshPose, Prediction
from meshpose_core.topology.outline import GROUP_NAMES

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "weights" / "meshpose_xs_bp.safetensors"
TFLITE = REPO / "weights" / "meshpose_xs_bp.tflite"
IMAGES = REPO / "assets" / "test_images"
SAMPLE = REPO / "assets" / "samples" / "gym_run.mp4"
DETECTOR = REPO / "assets" / "blazepose" / "pose_detection.tflite"

# the one-time ONNX exports trace the network: its shape checks warn, harmlessly
pytestmark = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")

# auto -> torch on a CUDA machine: the CPU choice is what these tests check
cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason="auto picks torch on CUDA")


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory) -> Iterator[Path]:
    """A private export cache for this module (ONNX exports, cached .tflite), also for the
    CLI through $MESHPOSE_CACHE: never the user's ~/.cache."""
    path = tmp_path_factory.mktemp("export-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MESHPOSE_CACHE", str(path))
        yield path


def config(cache: Path, **kw) -> NetworkConfig:
    return NetworkConfig(threads=1, cache_dir=str(cache), **kw)


@pytest.fixture(scope="module")
def litert(cache: Path) -> Network:
    return Network(config(cache, backend="litert"))


@pytest.fixture(scope="module")
def onnx(cache: Path) -> Network:
    """The shipped weights exported once to ONNX (a few seconds) into the module's cache."""
    return Network(config(cache, backend="onnx"))


@pytest.fixture(scope="module")
def crops() -> dict[str, np.ndarray]:
    """Real person crops at the model's input size, as the pipeline makes them: the
    detector's boxes on the street photo (3 people) and the skier (1)."""
    detector = BlazePoseDetector()
    out = {}
    for name, people in (("street", 3), ("skier", 1)):
        image = read_image(next(IMAGES.glob(f"*_{name}.jpg")))
        boxes = [d.box for d in detector.detect(image)]
        assert len(boxes) == people
        transforms = np.stack([crop_transform(b, 1.25, (192, 192)) for b in boxes])
        out[name] = warp_crops(image, transforms, (192, 192))
    return out


def max_differences(a: Prediction, b: Prediction) -> dict[str, float]:
    return {
        "vertices": float(np.abs(a.vertices - b.vertices).max()),
        "vertices_high": float(np.abs(a.vertices_high - b.vertices_high).max()),
        "visibility": float(np.abs(a.visibility - b.visibility).max()),
        "keypoints": float(np.abs(a.keypoints - b.keypoints).max()),
    }


# -- backend choice ----------------------------------------------------------------------------


@cpu_only
def test_auto_on_cpu_runs_the_shipped_tflite(cache: Path, onnx: Network) -> None:
    auto = Network(config(cache))  # the default model (xs_bp) and backend (auto)
    assert auto.backend == "litert" and auto.device == "cpu"
    assert isinstance(auto.model, LiteRtMeshPose)
    assert auto.name == "meshpose_xs_bp (litert, cpu)" and auto.weights == WEIGHTS
    assert auto.input_size == onnx.input_size == (192, 192)
    assert onnx.backend == "onnx" and onnx.name == "meshpose_xs_bp (onnx, cpu)"


@cpu_only
def test_iuv_runs_on_onnx_and_litert_refuses_it(cache: Path, crops) -> None:
    iuv = Network(config(cache, want_iuv=True))
    assert iuv.backend == "onnx"  # the TFLite graph has no IUV output
    pred, _, _ = iuv.predict(crops["skier"])
    assert pred.iuv is not None and pred.iuv.shape[:2] == (1, 3)
    assert pred.iuv[:, 0].min() >= 0 and pred.iuv[:, 0].max() <= 24  # part index I
    with pytest.raises(ModelUnavailable, match=r"LiteRT model has no IUV output") as err:
        Network(config(cache, backend="litert", want_iuv=True))
    assert "--backend onnx" in str(err.value)
    with pytest.raises(ValueError, match="IUV"):
        LiteRtMeshPose(TFLITE, 1).infer(crops["skier"], want_iuv=True)


def test_litert_on_cuda_is_refused(cache: Path) -> None:
    with pytest.raises(ValueError, match="litert backend runs on the CPU"):
        Network(config(cache, backend="litert", device="cuda"))


@cpu_only
def test_a_tflite_path_as_model_runs_on_litert(cache: Path, litert: Network, crops) -> None:
    direct = Network(config(cache, model=str(TFLITE)))
    assert direct.backend == "litert" and direct.weights == TFLITE
    a, _, _ = direct.predict(crops["street"])
    b, _, _ = litert.predict(crops["street"])
    np.testing.assert_array_equal(a.vertices, b.vertices)


# -- LiteRT vs onnxruntime ---------------------------------------------------------------------


@pytest.mark.parametrize("image", ["skier", "street"])
def test_litert_and_onnxruntime_agree_on_real_crops(
    litert: Network, onnx: Network, crops, image: str
) -> None:
    batch = crops[image]
    a, net_ms, up_ms = litert.predict(batch)
    b, _, _ = onnx.predict(batch)
    assert net_ms > 0 and up_ms > 0
    assert len(a) == len(b) == len(batch)
    # real meshes, not a degenerate output: people span most of their crop
    span = np.ptp(a.vertices[..., 1], axis=1)
    assert (span > 60).all() and (a.vertices[..., :2] > -50).all(), span
    diff = max_differences(a, b)
    print(f"LiteRT vs onnxruntime on {image} ({len(batch)} crops): {diff}")
    assert diff["vertices"] < 0.1, diff  # crop px
    assert diff["vertices_high"] < 0.1 and diff["keypoints"] < 0.1, diff
    assert diff["visibility"] < 1e-3, diff
    assert a.foreground.shape == b.foreground.shape == (len(batch), 48, 48)
    assert np.abs(a.foreground - b.foreground).max() < 1e-3
    # a trained foreground: on the person's body, not everywhere
    cells = np.clip((a.vertices[..., :2] / 4).astype(int), 0, 47)  # (B, V, 2) x, y
    rows = np.arange(len(batch))[:, None]
    on_body = a.foreground[rows, cells[..., 1], cells[..., 0]][a.visibility > 0.5]
    assert on_body.mean() > 0.6 and 0.02 < (a.foreground > 0.5).mean() < 0.7
    assert a.vertices.dtype == np.float32 and a.iuv is None
    assert a.vertices_high.shape == (len(batch), 6890, 3) and a.keypoints.shape[1:] == (17, 3)


def test_litert_batch_equals_single_calls(litert: Network, onnx: Network, crops) -> None:
    """The .tflite has batch 1: a batch of 3 runs person by person, same numbers."""
    batch = crops["street"]
    whole, _, _ = litert.predict(batch)
    singles = [litert.predict(batch[i : i + 1])[0] for i in range(len(batch))]
    for i, one in enumerate(singles):
        np.testing.assert_array_equal(whole.vertices[i], one.vertices[0])
        np.testing.assert_array_equal(whole.visibility[i], one.visibility[0])
        np.testing.assert_allclose(whole.vertices_high[i], one.vertices_high[0], atol=1e-4)
    # and the people do differ (the batch is not one crop repeated)
    assert np.abs(whole.vertices[0] - whole.vertices[1]).max() > 5
    # onnxruntime's dynamic batch too, for the reference
    ref = [onnx.predict(batch[i : i + 1])[0] for i in range(len(batch))]
    np.testing.assert_allclose(np.concatenate([r.vertices for r in ref]), whole.vertices, atol=0.1)


# -- which .tflite belongs to which weights ---------------------------------------------------


@pytest.fixture
def weights_copy(tmp_path: Path) -> Path:
    """The shipped weights alone in another folder (no .tflite beside them)."""
    path = tmp_path / "w" / "copy.safetensors"
    path.parent.mkdir()
    shutil.copyfile(WEIGHTS, path)
    return path


def test_the_shipped_tflite_keeps_the_network_in_one_xnnpack_partition() -> None:
    """The backbone, both heads and the score maps run in one XNNPACK partition: an op it
    cannot run among them (as the BROADCAST_TO of a grid built from torch ops once did)
    splits the graph, and the large score maps then cross a partition boundary (~5 % of the
    network time). The only ops left outside are the facing term's two gathers over the
    518 decoded vertices (``decoding.facing_camera``): tensors of a few thousand values."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(TFLITE), num_threads=1)
    interpreter.allocate_tensors()
    if not hasattr(interpreter, "_get_ops_details"):
        pytest.skip("this LiteRT has no execution-plan listing")
    plan = interpreter._get_ops_details()
    names = [op["op_name"] for op in plan]
    assert "BROADCAST_TO" not in names
    sizes = {t["index"]: int(np.prod(t["shape"])) for t in interpreter.get_tensor_details()}
    outside = [op for op in plan if op["op_name"] == "GATHER_ND"]
    assert names.count("DELEGATE") <= 1 + len(outside) <= 3, names
    for op in outside:  # what crosses a partition boundary stays small
        assert max(sizes.get(i, 0) for i in (*op["inputs"], *op["outputs"])) <= 10_000
    first = next(op for op in plan if op["op_name"] == "DELEGATE")
    assert any(sizes.get(i, 0) == 192 * 192 * 3 for i in first["inputs"])  # takes the crop


def test_tflite_for_the_shipped_weights_is_the_shipped_file(tmp_path: Path) -> None:
    assert sidecar(TFLITE) == TFLITE.with_name("meshpose_xs_bp.tflite.json")
    meta = json.loads(sidecar(TFLITE).read_text())
    assert meta == {
        "weights_sha256": file_sha256(WEIGHTS),
        "export_version": EXPORT_VERSION,
        "outline_scales": list(load_checkpoint(WEIGHTS)[0].cfg.outline_scales),
    }
    assert len(meta["outline_scales"]) == len(GROUP_NAMES)  # the shipped weights widen
    assert tflite_for(WEIGHTS, tmp_path) == TFLITE
    assert tflite_for(TFLITE, tmp_path) == TFLITE  # a .tflite is taken as it is


@cpu_only
def test_weights_without_a_tflite_run_on_onnx(cache: Path, weights_copy: Path) -> None:
    assert tflite_for(weights_copy, cache) is None
    net = Network(config(cache, model=str(weights_copy)))  # same bytes: the cached ONNX
    assert net.backend == "onnx"
    with pytest.raises(ModelUnavailable, match=r"no LiteRT model for .*copy\.safetensors"):
        Network(config(cache, model=str(weights_copy), backend="litert"))


@cpu_only
def test_a_tflite_in_the_cache_is_found(tmp_path: Path, weights_copy: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    sha = file_sha256(weights_copy)
    cached = cache / f"meshpose_{sha[:20]}_v{EXPORT_VERSION}_mesh.tflite"
    shutil.copyfile(TFLITE, cached)
    assert tflite_for(weights_copy, cache) is None  # no sidecar: not trusted
    shutil.copyfile(sidecar(TFLITE), sidecar(cached))
    assert tflite_for(weights_copy, cache) == cached
    net = Network(NetworkConfig(model=str(weights_copy), threads=1, cache_dir=str(cache)))
    assert net.backend == "litert"
    assert not list(cache.glob("*.onnx"))  # nothing exported


@pytest.mark.parametrize(
    ("text", "used"),
    [
        pytest.param(b'{"weights_sha256": "SHA", "export_version": VER}', True, id="matching"),
        pytest.param(b'{"export_version": VER, "weights_sha256": "SHA", "x": 1}', True, id="extra"),
        pytest.param(b'{"weights_sha256": "0123", "export_version": VER}', False, id="wrong-sha"),
        pytest.param(b'{"weights_sha256": "SHA", "export_version": 1}', False, id="old-version"),
        pytest.param(b'{"weights_sha256": "SHA", "export_version": 99}', False, id="new-version"),
        pytest.param(b'{"weights_sha256": "SHA", "export_version": "VER"}', False, id="str-ver"),
        pytest.param(b'{"weights_sha256": "SHA"}', False, id="no-version"),
        pytest.param(b'{"export_version": VER}', False, id="no-sha"),
        pytest.param(b'{"weights_sha256": "SHA", "export_vers', False, id="truncated"),
        pytest.param(b"weights_sha256 SHA export_version VER", False, id="not-json"),
        pytest.param(b'["SHA", VER]', False, id="json-list"),
        pytest.param(b"\xff\xfe\x00\x81garbage", False, id="binary"),
        pytest.param(b"", False, id="empty"),
        pytest.param(None, False, id="missing"),
    ],
)
def test_only_a_matching_sidecar_makes_the_tflite_used(
    tmp_path: Path, weights_copy: Path, text: bytes | None, used: bool
) -> None:
    sha = file_sha256(weights_copy)
    tflite = weights_copy.with_suffix(".tflite")
    shutil.copyfile(TFLITE, tflite)
    if text is not None:
        text = text.replace(b"SHA", sha.encode()).replace(b"VER", str(EXPORT_VERSION).encode())
        sidecar(tflite).write_bytes(text)
    assert tflite_sidecar_matches(tflite, sha) is used
    assert tflite_for(weights_copy, tmp_path / "cache") == (tflite if used else None)


def test_a_matching_sidecar_without_its_tflite_is_not_used(tmp_path, weights_copy) -> None:
    tflite = weights_copy.with_suffix(".tflite")
    meta = {"weights_sha256": file_sha256(weights_copy), "export_version": EXPORT_VERSION}
    sidecar(tflite).write_text(json.dumps(meta))
    assert not tflite_sidecar_matches(tflite, meta["weights_sha256"])
    assert tflite_for(weights_copy, tmp_path / "cache") is None


def test_a_sidecar_that_cannot_be_read_is_not_matched(tmp_path: Path) -> None:
    tflite = tmp_path / "m.tflite"
    shutil.copyfile(TFLITE, tflite)
    sidecar(tflite).mkdir()  # a folder where the JSON should be: OSError on reading
    assert not tflite_sidecar_matches(tflite, file_sha256(WEIGHTS))


# -- broken files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(np.random.default_rng(0).bytes(4096), id="random"),
        pytest.param(b"", id="empty"),
        pytest.param(TFLITE.read_bytes()[:65536], id="truncated"),
    ],
)
@cpu_only
def test_a_corrupt_tflite_is_a_clear_error(tmp_path: Path, cache: Path, content: bytes) -> None:
    bad = tmp_path / "corrupt.tflite"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError, match="could not be loaded") as err:
        LiteRtMeshPose(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    # the network stage turns it into ModelUnavailable (the CLI's one-line usage error)
    with pytest.raises(ModelUnavailable, match="could not be loaded") as err2:
        Network(config(cache, model=str(bad)))
    assert isinstance(err2.value.__cause__, CheckpointError)
    with pytest.raises(CheckpointError, match="TFLite model not found"):
        LiteRtMeshPose(tmp_path / "missing.tflite")


def test_a_foreign_tflite_is_a_clear_error(cache: Path) -> None:
    with pytest.raises(CheckpointError, match="not a MeshPose export"):
        LiteRtMeshPose(DETECTOR)
    with pytest.raises(ModelUnavailable, match="not a MeshPose export"):
        Network(config(cache, model=str(DETECTOR)))


@pytest.mark.parametrize(
    ("backend", "want_iuv"), [("onnx", False), ("torch", False), ("auto", True)]
)
def test_a_tflite_model_elsewhere_than_litert_says_so(
    cache: Path, backend: str, want_iuv: bool
) -> None:
    with pytest.raises(ModelUnavailable, match="runs only on the litert backend"):
        Network(config(cache, model=str(TFLITE), backend=backend, want_iuv=want_iuv))


# -- export ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_net() -> MeshPoseNet:
    torch.manual_seed(0)
    return MeshPoseNet(MeshPoseConfig.preset("xs", input_size=(64, 64)))


def test_tflite_export_without_the_converter_says_what_to_install(
    tmp_path: Path, tiny_net: MeshPoseNet, monkeypatch
) -> None:
    monkeypatch.setitem(sys.modules, "litert_torch", None)  # import fails, installed or not
    out = tmp_path / "tiny.tflite"
    with pytest.raises(ConverterUnavailable, match=r"requirements-convert\.txt") as err:
        export_tflite(tiny_net, out, "0" * 64)
    assert "litert-torch" in str(err.value)
    assert not out.exists() and not sidecar(out).exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--iuv"], "the TFLite export has no IUV output"),
        ([], "requirements-convert.txt"),
    ],
)
def test_export_cli_tflite_errors(tmp_path, monkeypatch, capsys, extra, message) -> None:
    monkeypatch.setitem(sys.modules, "litert_torch", None)
    out = tmp_path / "x.tflite"
    args = ["--model", "xs", "--random-init", "--format", "tflite", "--out", str(out)]
    assert export_main(args + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_export_cli_tflite_iuv_with_the_shipped_weights(tmp_path, capsys) -> None:
    out = tmp_path / "x.tflite"
    assert export_main(["--model", "xs_bp", "--format", "tflite", "--iuv", "--out", str(out)]) == 2
    assert "no IUV output" in capsys.readouterr().err and not out.exists()


def test_tflite_conversion_of_a_tiny_net(tmp_path: Path, cache: Path) -> None:
    """Only where the converter is installed (requirements-convert.txt): the converted file
    is found for its weights and agrees with PyTorch."""
    pytest.importorskip("litert_torch")
    torch.manual_seed(1)
    weights = tmp_path / "tiny.safetensors"
    save_checkpoint(MeshPoseNet(MeshPoseConfig.preset("xs", input_size=(64, 64))), weights, {})
    net, _ = load_checkpoint(weights)
    sha = file_sha256(weights)
    out = export_tflite(net, weights.with_suffix(".tflite"), sha)
    assert out.stat().st_size > 100_000
    assert json.loads(sidecar(out).read_text()) == {
        "weights_sha256": sha,
        "export_version": EXPORT_VERSION,
    }
    assert tflite_for(weights, cache) == out
    lite = Network(config(cache, model=str(weights), device="cpu"))
    ref = Network(config(cache, model=str(weights), backend="torch", device="cpu"))
    assert lite.backend == "litert" and lite.input_size == (64, 64)
    crops = np.random.default_rng(2).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    a, _, _ = lite.predict(crops)
    b, _, _ = ref.predict(crops)
    np.testing.assert_allclose(a.vertices, b.vertices, atol=2e-2)
    np.testing.assert_allclose(a.visibility, b.visibility, atol=1e-3)


# -- CLI ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The sample's first 3 frames (the CLI has no frame limit), written by the pipeline's
    own VideoSink."""
    path = tmp_path_factory.mktemp("clip") / "three.mp4"
    with av.open(str(SAMPLE)) as src:
        stream = src.streams.video[0]
        fps = float(stream.average_rate)
        frames = []
        for frame in src.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == 3:
                break
    sink = VideoSink(path, frames[0].shape[1], frames[0].shape[0], fps)
    for rgb in frames:
        sink.write(rgb)
    sink.close()
    return path


def test_cli_runs_with_backend_litert(clip: Path, tmp_path: Path, capsys) -> None:
    out, js = tmp_path / "o.mp4", tmp_path / "o.json"
    args = ["--video", clip, "--backend", "litert", "--headless", "--out", out]
    args += ["--export-json", js, "--layers", "mesh,boxes", "--threads", "1"]
    rc = cli_main([str(a) for a in args])
    _, err = capsys.readouterr()
    assert rc == 0, err
    assert "meshpose_xs_bp (litert, cpu)" in err and "3 frames" in err
    with av.open(str(out)) as c:
        assert len(list(c.decode(video=0))) == 3
    frames = json.loads(js.read_text())["frames"]
    assert len(frames) == 3 and all(len(f["people"]) == 1 for f in frames)
    assert "(litert, cpu)" in json.loads(js.read_text())["meta"]["model"]


def test_cli_backend_litert_without_a_tflite_is_one_error_line(
    clip: Path, weights_copy: Path, tmp_path: Path, capsys
) -> None:
    args = ["--video", clip, "--model", weights_copy, "--backend", "litert", "--headless"]
    args += ["--out", tmp_path / "o.mp4"]
    rc = cli_main([str(a) for a in args])
    err = capsys.readouterr().err
    assert rc == 2
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "no LiteRT model" in lines[0] and "--backend onnx" in lines[0]
