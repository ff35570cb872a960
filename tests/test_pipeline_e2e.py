"""End to end with a tiny random-init checkpoint: detector on real photos, a short clip through
the CLI (valid mp4 + schema-valid JSON), images with OBJ export, every bad input a one-line
error, and Ctrl-C leaving playable output."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from meshpose_app.cli import main
from meshpose_core.detection import YoloxConfig
from meshpose_core.model import checkpoint
from meshpose_core.pipeline import (
    NetworkConfig,
    Pipeline,
    PipelineConfig,
    RenderConfig,
    TrackerConfig,
)
from meshpose_core.pipeline.sinks import SCHEMA_PATH
from meshpose_core.pipeline.sources import read_image

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "assets" / "samples" / "gym_run.mp4"
IMAGES = REPO / "assets" / "test_images"
STREET = IMAGES / "coco_000000252219_street.jpg"
SKIER = IMAGES / "coco_000000000785_skier.jpg"
CLIP_FRAMES = 10
pytestmark = pytest.mark.usefixtures("every_mesh_drawn")  # random-init meshes (conftest)


@pytest.fixture(scope="module", autouse=True)
def onnx_cache(tmp_path_factory) -> Iterator[Path]:
    """A private ONNX export cache (shared by this module's runs, never the user's)."""
    path = tmp_path_factory.mktemp("onnx-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MESHPOSE_CACHE", str(path))
        yield path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The first frames of the sample clip (same size and rate)."""
    path = tmp_path_factory.mktemp("clip") / "short.mp4"
    with av.open(str(SAMPLE)) as src, av.open(str(path), "w") as dst:
        s_in = src.streams.video[0]
        s_out = dst.add_stream("libx264", rate=s_in.average_rate)
        s_out.width, s_out.height, s_out.pix_fmt = s_in.width, s_in.height, "yuv420p"
        for i, frame in enumerate(src.decode(s_in)):
            if i == CLIP_FRAMES:
                break
            rgb = frame.to_ndarray(format="rgb24")
            dst.mux(s_out.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        dst.mux(s_out.encode(None))
    return path


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def validate(data: dict, schema: dict) -> None:
    """Validate an export against the JSON schema (skips if jsonschema is missing)."""
    jsonschema = pytest.importorskip("jsonschema")  # a dev dependency
    jsonschema.validate(data, schema)


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "error:" in line]


def test_detector_and_pipeline_find_the_people_on_test_images(tiny_model: Path) -> None:
    config = PipelineConfig(
        network=NetworkConfig(model=str(tiny_model), backend="torch", device="cpu", threads=1),
        # confident detections only: the tiny model's meshes cannot vet weak ones (a shopping
        # cart scores 0.29 on the street photo; the shipped weights' mesh rejects it)
        yolox=YoloxConfig(score_threshold=TrackerConfig.confident_score),
        render=RenderConfig(layers=()),
    )
    with Pipeline(config) as pipe:
        for path, people in ((STREET, 3), (SKIER, 1)):
            pipe.reset()
            image = read_image(path)
            assert len(pipe.detector.detect(image)) == people
            result = pipe.process(image)
            assert len(result.people) == people and result.annotated is None
            p = result.people[0]
            assert p.vertices.shape == (518, 3) and p.vertices_high.shape == (6890, 3)
            assert p.keypoints.shape == (17, 3) and p.visibility.shape == (518,)
            assert set(result.latency_ms) >= {"detect", "track", "network", "upsample"}


def test_clip_end_to_end_valid_mp4_json_npz(tiny_model, clip, schema, tmp_path, capsys) -> None:
    out, js, npz = tmp_path / "o" / "a.mp4", tmp_path / "a.json", tmp_path / "a.npz"
    layers = "mesh,visibility,iuv,keypoints,boxes,hud"
    args = ["--video", clip, "--model", tiny_model, "--out", out, "--export-json", js]
    args += [
        "--export-npz",
        npz,
        "--layers",
        layers,
        "--smooth",
        "1",
        "--headless",
        "--threads",
        "1",
    ]
    rc, stdout, err = run_cli(args, capsys)
    assert rc == 0, err
    assert str(out) in stdout and str(js) in stdout
    with av.open(str(out)) as c, av.open(str(clip)) as ref:
        s, r = c.streams.video[0], ref.streams.video[0]
        assert (s.width, s.height) == (r.width, r.height) == (640, 362)
        assert s.codec_context.name == "h264" and s.average_rate == r.average_rate == 30
        assert len(list(c.decode(s))) == CLIP_FRAMES
    data = json.loads(js.read_text())
    validate(data, schema)
    assert data["meta"]["width"] == 640 and data["meta"]["fps"] == pytest.approx(30.0)
    assert [f["index"] for f in data["frames"]] == list(range(CLIP_FRAMES))
    assert all(len(f["people"]) == 1 for f in data["frames"])
    assert {p["track_id"] for f in data["frames"] for p in f["people"]} == {1}
    arrays = np.load(npz)
    assert arrays["vertices_high"].shape == (CLIP_FRAMES, 6890, 3)
    assert arrays["frame_index"].tolist() == list(range(CLIP_FRAMES))


def test_images_folder_with_obj_export(tiny_model, schema, tmp_path, capsys) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(STREET, folder / "b_street.jpg")
    shutil.copy(SKIER, folder / "a_skier.jpg")
    out, js, objs = tmp_path / "annotated", tmp_path / "i.json", tmp_path / "obj"
    args = ["--images", folder, "--model", tiny_model, "--backend", "torch", "--threads", "1"]
    args += ["--out", out]
    rc, _, err = run_cli([*args, "--export-json", js, "--export-obj", objs], capsys)
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["a_skier.jpg", "b_street.jpg"]
    data = json.loads(js.read_text())
    validate(data, schema)
    assert [f["file"] for f in data["frames"]] == ["a_skier.jpg", "b_street.jpg"]
    assert [len(f["people"]) for f in data["frames"]] == [1, 3]
    assert data["meta"]["fps"] == 0.0
    files = sorted(p.name for p in objs.iterdir())
    assert files == ["a_skier_id1.obj", "b_street_id1.obj", "b_street_id2.obj", "b_street_id3.obj"]
    lines = (objs / files[0]).read_text().splitlines()
    assert sum(line.startswith("v ") for line in lines) == 6890
    assert sum(line.startswith("vt ") for line in lines) > 6890  # seams split UVs
    faces = [line for line in lines if line.startswith("f ")]
    assert len(faces) > 13000 and all(len(f.split()[1].split("/")) == 2 for f in faces[:50])


def test_clip_drawn_by_pyrender(tiny_model, clip, tmp_path, capsys) -> None:
    """``--renderer pyrender`` (optional package) end to end: a valid video, every frame."""
    if importlib.util.find_spec("pyrender") is None:
        pytest.skip("pyrender is not installed (an optional renderer)")
    out = tmp_path / "p.mp4"
    args = ["--video", clip, "--model", tiny_model, "--out", out, "--headless", "--threads", "1"]
    args += ["--renderer", "pyrender", "--layers", "mesh,iuv,keypoints"]
    rc, _, err = run_cli(args, capsys)  # the main thread: the CLI handles signals there
    if rc != 0 and "pyrender cannot" in err:
        pytest.skip(err.strip())
    assert rc == 0, err
    with av.open(str(out)) as c:
        assert len(list(c.decode(video=0))) == CLIP_FRAMES


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--video", "missing.mp4", "--headless"], 1, "video file not found"),
        (["--video", "{garbage}", "--headless"], 1, "cannot read video"),
        (["--images", "{garbage}"], 1, "unsupported image format"),
        (["--webcam", "--camera", "97", "--headless"], 1, "no camera found at index 97"),
        (["--renderer", "vulkan"], 2, "invalid choice: 'vulkan'"),
        (["--layers", "mesh,bones"], 2, "unknown layer 'bones'"),
        (["--detect-every", "0"], 2, "must be >= 1"),
        (["--video", "{clip}", "--out", "{tmp}/x.avi", "--headless"], 2, "must be a .mp4 file"),
    ],
)
def test_bad_inputs_give_one_error_line(tiny_model, clip, tmp_path, capsys, args, status, message):
    garbage = tmp_path / "garbage.dat"
    garbage.write_bytes(b"\x00garbage" * 64)
    fields = {"garbage": garbage, "clip": clip, "tmp": tmp_path}
    args = [a.format(**fields) for a in args]
    rc, _, err = run_cli([*args, "--model", tiny_model], capsys)
    assert rc == status, err
    assert len(error_lines(err)) == 1 and message in error_lines(err)[0], err


@pytest.mark.parametrize(
    ("garment", "status", "message"),
    [
        ("unknown_name", 2, "unknown garment 'unknown_name'; available: chest_logo"),
        ("striped_tshirt+", 2, "empty garment in outfit"),
        ("{broken}", 1, "cannot read garment image"),
        ("{missing}", 1, "garment image not found"),
        ("{broken_npz}", 1, "is unreadable or corrupt"),
    ],
)
def test_bad_garment_is_one_error_line_before_any_frame(
    tiny_model, clip, tmp_path, capsys, garment, status, message
) -> None:
    broken, broken_npz = tmp_path / "broken.png", tmp_path / "broken.npz"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a PNG")
    broken_npz.write_bytes(b"PK garbage")
    fields = {"broken": broken, "missing": tmp_path / "missing.png", "broken_npz": broken_npz}
    out, js = tmp_path / "out" / "a.mp4", tmp_path / "a.json"
    args = ["--video", clip, "--model", tiny_model, "--headless", "--out", out]
    args += ["--export-json", js, "--garment", "striped_tshirt", "--garment"]
    rc, stdout, err = run_cli([*args, garment.format(**fields)], capsys)
    assert rc == status, err
    assert len(error_lines(err)) == 1 and message in error_lines(err)[0], err
    assert err.count("\n") == 1 and not stdout  # nothing started, nothing written
    assert not out.exists() and not out.parent.exists() and not js.exists()


def test_garment_layer_needs_a_garment_and_names_are_listed(capsys) -> None:
    rc, _, err = run_cli(["--layers", "mesh,garment"], capsys)
    assert rc == 2 and "the garment layer needs --garment NAME" in err
    rc, stdout, _ = run_cli(["--list-garments"], capsys)
    assert rc == 0 and {"striped_tshirt", "flared_skirt"} <= set(stdout.split())


def test_clip_with_outfits(tiny_model, clip, tmp_path, capsys) -> None:
    """``--garment`` adds the garment layer; two outfits; a complete video comes out."""
    out = tmp_path / "dressed.mp4"
    args = ["--video", clip, "--model", tiny_model, "--backend", "torch", "--threads", "1"]
    args += ["--headless", "--out", out, "--layers", "mesh"]
    args += ["--garment", "striped_tshirt+flared_skirt", "--garment", "loose_coat"]
    rc, _, err = run_cli(args, capsys)
    assert rc == 0, err
    assert "layers mesh,garment, outfits striped_tshirt+flared_skirt | loose_coat" in err
    with av.open(str(out)) as c:
        assert len(list(c.decode(video=0))) == CLIP_FRAMES


def test_no_trained_weights_says_how_to_get_them(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(checkpoint, "WEIGHTS_DIR", tmp_path)  # as before the weights land
    rc, _, err = run_cli([], capsys)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1
    assert "no trained weights for MeshPose-XS" in err and "--model PATH" in err


def test_tracker_ids_on_the_clip(tiny_model, clip) -> None:
    """Real detections on consecutive frames: one person, one id, detector not every frame
    when the mesh refinement is off (random weights give meaningless meshes)."""
    config = PipelineConfig(
        network=NetworkConfig(model=str(tiny_model), backend="torch", device="cpu", threads=1),
        tracker=TrackerConfig(detect_every=3, refine_from_mesh=False),
        render=RenderConfig(layers=()),
    )
    from meshpose_core.pipeline import VideoSource

    with Pipeline(config) as pipe, VideoSource(clip) as src:
        results = list(pipe.run(src))
    assert [r.detected for r in results] == [True, True, False, False] + [True, False, False] * 2
    assert all([p.track_id for p in r.people] == [1] for r in results)
    assert all(r.latency_ms["capture"] > 0 for r in results)


def test_results_at_processes_the_clip_from_its_start(tiny_model, clip) -> None:
    """The chosen frames' results are those of a run over the whole clip (tracker warm), in
    order; frames past the clip's end are left out."""
    from meshpose_core.pipeline import VideoSource, results_at

    config = PipelineConfig(
        network=NetworkConfig(model=str(tiny_model), backend="torch", device="cpu", threads=1),
        tracker=TrackerConfig(detect_every=3, refine_from_mesh=False),
        render=RenderConfig(layers=()),
    )
    with Pipeline(config) as pipe:
        with VideoSource(clip) as src:
            full = list(pipe.run(src))
        picked = list(results_at(pipe, clip, [7, 2, 99]))
    assert [(f.index, r.index) for f, r in picked] == [(2, 2), (7, 7)]
    for frame, result in picked:
        assert frame.image.shape == (result.height, result.width, 3)
        assert result.detected == full[frame.index].detected
        expected = full[frame.index].people
        assert [p.track_id for p in result.people] == [p.track_id for p in expected]
        for got, want in zip(result.people, expected, strict=True):
            np.testing.assert_allclose(got.vertices, want.vertices, atol=1e-3)


def test_ctrl_c_leaves_playable_video_and_valid_json(tiny_model, schema, tmp_path) -> None:
    out, js = tmp_path / "int.mp4", tmp_path / "int.json"
    cmd = [sys.executable, str(REPO / "run_demo.py"), "--video", str(SAMPLE), "--headless"]
    cmd += ["--model", str(tiny_model), "--backend", "torch", "--threads", "1", "--out", str(out)]
    cmd += ["--export-json", str(js)]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        partial = js.with_name("int.partial.json")  # the final name once complete
        if partial.exists() and partial.read_text().count('"index"') >= 3:
            break
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted after" in stderr and str(out) in stdout
    data = json.loads(js.read_text())
    validate(data, schema)
    n = len(data["frames"])
    assert 3 <= n < 120
    with av.open(str(out)) as c:
        decoded = len(list(c.decode(video=0)))
    assert decoded == n  # a frame's outputs are written together or not at all
