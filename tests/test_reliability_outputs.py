"""Reliability of outputs (issue 20): no output path may destroy an input or another output,
refusals come before the first frame, files appear under their name only when complete, a
hard kill leaves readable files, and the exports never hold NaN."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from reliability_helpers import (
    SKIER,
    digest,
    error_lines,
    private_onnx_cache,  # noqa: F401 - autouse
    run_cli,
    strict_json,
    write_clip,
)

from meshpose_core.pipeline import DensePoseFrame, FrameResult, PersonResult
from meshpose_core.pipeline.glb import GlbSink
from meshpose_core.pipeline.output_paths import (
    Output,
    OutputPathError,
    check_outputs,
    partial_path,
    unique_stems,
)
from meshpose_core.pipeline.sinks import (
    SCHEMA_PATH,
    ImageSink,
    IuvSink,
    JsonSink,
    NpzSink,
    ObjSink,
    SinkError,
    VideoSink,
)

FAST = ["--backend", "torch", "--threads", "1", "--headless", "--layers", "boxes"]
pytestmark = pytest.mark.usefixtures("every_mesh_drawn")  # random-init meshes (conftest)


@pytest.fixture
def work(tmp_path: Path, monkeypatch) -> Path:
    """A folder with a clip, a photo folder and an empty folder; the current directory."""
    write_clip(tmp_path / "x.mp4")
    (tmp_path / "photos").mkdir()
    shutil.copy(SKIER, tmp_path / "photos" / "a.jpg")
    (tmp_path / "folder").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): digest(p) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("args", "message"),
    [  # finding 1: the input destroyed / an output lost
        (["--video", "x.mp4", "--out", "x.mp4"], "--out x.mp4 is an input"),
        (["--video", "x.mp4", "--out", "o.mp4", "--export-json", "x.mp4"], "is an input"),
        (["--video", "x.mp4", "--out", "./sub/../x.mp4"], "is an input"),
        (["--images", "photos", "--out", "photos"], "--out photos is an input"),
        (["--images", "photos/a.jpg", "--out", "photos"], "holds the input photos/a.jpg"),
        (["--video", "x.mp4", "--out", "o.mp4", "--export-json", "o.mp4"], "also the output"),
        (["--video", "x.mp4", "--out", "o.mp4", "--export-npz", "./o.mp4"], "also the output"),
        (["--video", "x.mp4", "--out", "o.mp4", "--export-json", "{model}"], "is an input"),
        # finding 2: failures that came late or as tracebacks
        (["--video", "x.mp4", "--out", "o.mp4", "--export-npz", "folder"], "existing folder"),
        (["--video", "x.mp4", "--out", "folder"], "--out folder is an existing folder"),
        (["--video", "x.mp4", "--out", "x.mp4/o.mp4"], "x.mp4 is a file, not a folder"),
        (["--video", "x.mp4", "--export-obj", "x.mp4"], "is an existing file"),
        (["--images", "photos", "--out", "o.mp4"], "must be a folder"),
        (["--video", "x.mp4", "--export-obj", "x.mp4/objs"], "is a file, not a folder"),
        # the DensePose and glTF exports, checked like the others
        (["--video", "x.mp4", "--export-iuv", "x.mp4"], "--export-iuv x.mp4 is an existing file"),
        (["--video", "x.mp4", "--export-iuv", "iuv.png"], "must be a folder"),
        (["--images", "photos", "--out", "a", "--export-iuv", "photos"], "is an input"),
        (["--video", "x.mp4", "--export-glb", "o.gltf"], "--export-glb o.gltf: must be a .glb"),
        (["--video", "x.mp4", "--export-glb", "folder"], "is an existing folder"),
        (["--video", "x.mp4", "--export-npz", "o.glb", "--export-glb", "o.glb"], "also the output"),
    ],
)
def test_dangerous_output_paths_are_refused_before_anything(
    tiny_model, work, capsys, args, message
) -> None:
    (work / "sub").mkdir()
    before = _snapshot(work)
    args = [a.format(model=tiny_model) for a in args]
    rc, out, err = run_cli([*args, "--model", tiny_model, *FAST], capsys)
    assert rc == 2, err
    assert len(error_lines(err)) == 1 and message in error_lines(err)[0], err
    assert "Traceback" not in err and "frames in" not in err and out == ""
    assert _snapshot(work) == before  # nothing touched, nothing created


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anyway")
@pytest.mark.parametrize(
    ("option", "name"),
    [
        ("--out", "o.mp4"),
        ("--export-json", "o.json"),
        ("--export-npz", "o.npz"),
        ("--export-obj", "objs"),
        ("--export-iuv", "iuv"),
        ("--export-glb", "o.glb"),
    ],
)
def test_read_only_folder_is_refused_up_front(tiny_model, work, capsys, option, name) -> None:
    locked = work / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        target = locked / name
        args = ["--video", "x.mp4", option, target, "--model", tiny_model, *FAST]
        rc, _, err = run_cli(args, capsys)
    finally:
        locked.chmod(0o755)
    assert rc == 2 and "not writable" in error_lines(err)[0], err
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize(
    ("source", "option", "name"),
    [
        ("--video", "--out", "o.mp4"),
        ("--video", "--export-json", "r.json"),
        ("--video", "--export-npz", "a.npz"),
        ("--video", "--export-obj", "objs"),
        ("--video", "--export-iuv", "iuv"),
        ("--video", "--export-glb", "r.glb"),
        ("--images", "--out", "annotated"),
    ],
)
def test_unwritable_folder_is_refused_even_for_root(
    tiny_model, work, capsys, monkeypatch, source, option, name
) -> None:
    """The same check where the test runs as root (which may write anywhere): the folder
    reported not writable by the operating system."""
    from meshpose_core.pipeline import output_paths

    locked = (work / "folder").resolve()
    real_access = os.access
    monkeypatch.setattr(
        output_paths.os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode)
    )
    given = "x.mp4" if source == "--video" else "photos"
    args = [source, given, option, locked / name, "--model", tiny_model]
    rc, _, err = run_cli([*args, *FAST], capsys)
    assert rc == 2 and f"folder {locked} is not writable" in error_lines(err)[0], err
    assert list(locked.iterdir()) == []


def test_check_outputs_library_cases(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "in.mp4")
    os.link(clip, tmp_path / "hard.mp4")
    os.symlink(clip, tmp_path / "soft.mp4")
    for name in ("hard.mp4", "soft.mp4"):  # other names of the input
        with pytest.raises(OutputPathError, match="is an input"):
            check_outputs([clip], [Output(tmp_path / name, "file", "--out")])
    with pytest.raises(OutputPathError, match="is an input"):  # its temporary name is one
        partial_input = tmp_path / "o.partial.mp4"
        check_outputs([partial_input], [Output(tmp_path / "o.mp4", "file", "--out")])
    check_outputs([clip], [Output(tmp_path / "new" / "deeper" / "o.mp4", "file", "--out")])
    assert not (tmp_path / "new").exists()  # checking creates nothing
    assert unique_stems(["x.jpg", "x.png", "y.jpg"]) == {
        "x.jpg": "x_jpg",
        "x.png": "x_png",
        "y.jpg": "y",
    }


def _person(value: float = 1.0) -> PersonResult:
    return PersonResult(
        track_id=1,
        box=np.float32([0, 0, 10, 20]),
        score=0.9,
        keypoints=np.full((17, 3), value, np.float32),
        vertices=np.full((518, 3), value, np.float32),
        visibility=np.full(518, 0.5, np.float32),
        vertices_high=np.full((6890, 3), value, np.float32),
        visibility_high=np.full(6890, 0.5, np.float32),
        crop_to_image=np.eye(2, 3, dtype=np.float32),
        vertices_camera=np.full((518, 3), value, np.float32),
        vertices_high_camera=np.full((6890, 3), value, np.float32),
    )


def _frame(index: int, value: float = 1.0) -> FrameResult:
    return FrameResult(index, index / 30, 64, 48, [_person(value)])


def test_files_appear_under_their_name_only_when_complete(tmp_path: Path) -> None:
    video, js, npz = tmp_path / "v.mp4", tmp_path / "r.json", tmp_path / "a.npz"
    sinks = VideoSink(video, 64, 48, 30), JsonSink(js, {"width": 64}), NpzSink(npz)
    image = np.zeros((48, 64, 3), np.uint8)
    for i in range(40):
        sinks[0].write(image)
        sinks[1].write(_frame(i))
        sinks[2].write(_frame(i))
        # while open: only the .partial files, and the JSON parses after every frame
        assert not video.exists() and not js.exists() and not npz.exists()
        assert len(strict_json(partial_path(js).read_text())["frames"]) == i + 1
    for sink in sinks:
        sink.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "r.json", "v.mp4"]
    with av.open(str(video)) as c:
        assert len(list(c.decode(video=0))) == 40
    assert len(json.loads(js.read_text())["frames"]) == 40
    assert np.load(npz)["vertices"].shape == (40, 518, 3)
    ImageSink(tmp_path / "imgs").write(image, "a.png")
    ObjSink(tmp_path / "objs").write(_frame(0), "a")
    assert [p.name for p in (tmp_path / "imgs").iterdir()] == ["a.png"]
    assert [p.name for p in (tmp_path / "objs").iterdir()] == ["a_id1.obj"]


def test_iuv_and_glb_replace_a_file_only_when_complete(tmp_path: Path) -> None:
    """The DensePose PNGs and the .glb are written under their ``.partial`` name: an
    earlier run's file is replaced by a complete one and nothing else is left behind."""
    iuv, glb = tmp_path / "iuv", tmp_path / "run.glb"
    iuv.mkdir()
    (iuv / "a_IUV.png").write_bytes(b"earlier run")
    glb.write_bytes(b"earlier run")
    dense = DensePoseFrame(np.full((48, 64, 3), 7, np.uint8), np.ones((48, 64), np.uint8))
    IuvSink(iuv).write(replace(_frame(0), densepose=dense), "a")
    assert sorted(p.name for p in iuv.iterdir()) == ["a_INDS.png", "a_IUV.png"]
    assert (cv2.imread(str(iuv / "a_IUV.png")) == 7).all()
    pytest.importorskip("pygltflib")  # the export extra
    sink = GlbSink(glb, 30.0)
    sink.write(_frame(0))
    assert glb.read_bytes() == b"earlier run"  # until the end, the earlier file is whole
    sink.close()
    assert glb.read_bytes()[:4] == b"glTF"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iuv", "run.glb"]


def test_json_never_holds_nan_and_warns_once(tmp_path: Path) -> None:
    js = tmp_path / "nan.json"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        meta = {"model": "m", "input": "i", "width": 64, "height": 48, "topology": "t"}
        sink = JsonSink(js, {**meta, "fps": float("nan")})
        sink.write(_frame(0, float("nan")))
        sink.write(_frame(1, float("inf")))
        sink.write(_frame(2))
    sink.close()
    assert len(caught) == 1 and "written as null" in str(caught[0].message)
    data = strict_json(js.read_text())  # finding 6: bare NaN tokens are not JSON
    assert data["meta"]["fps"] is None
    assert data["frames"][0]["people"][0]["vertices"][0] == [None, None, None]
    assert data["frames"][1]["people"][0]["vertices_camera"][0] == [None, None, None]
    assert data["frames"][2]["people"][0]["vertices"][0] == [1.0, 1.0, 1.0]
    jsonschema = pytest.importorskip("jsonschema")  # a dev dependency
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))  # null is in the schema


def test_obj_names_of_x_jpg_and_x_png_differ(tiny_model, tmp_path, capsys) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(SKIER, photos / "x.jpg")
    shutil.copy(SKIER, photos / "x.png")  # a JPEG under a .png name: decoded all the same
    objs = tmp_path / "objs"
    args = ["--images", photos, "--export-obj", objs, "--out", tmp_path / "ann"]
    rc, _, err = run_cli([*args, "--model", tiny_model, *FAST], capsys)
    assert rc == 0, err
    assert sorted(p.name for p in objs.iterdir()) == ["x_jpg_id1.obj", "x_png_id1.obj"]


def test_outputs_named_after_an_error_mid_run(tiny_model, tmp_path, capsys) -> None:
    """A video cut short fails after its first frames: the outputs of those frames are
    complete and named on stdout ("wrote ...") after the error line."""
    good = write_clip(tmp_path / "good.mp4", frames=20, width=128, height=96, noise=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    out, js = tmp_path / "o.mp4", tmp_path / "o.json"
    args = ["--video", cut, "--out", out, "--export-json", js, "--model", tiny_model, *FAST]
    rc, stdout, err = run_cli(args, capsys)
    assert rc == 1 and "truncated" in error_lines(err)[0], err
    assert f"wrote {out}" in stdout and f"wrote {js}" in stdout
    frames = len(json.loads(js.read_text())["frames"])
    with av.open(str(out)) as c:
        assert len(list(c.decode(video=0))) == frames > 0
    assert not partial_path(out).exists() and not partial_path(js).exists()


class _FullDisk:
    """A file on a disk with ``room`` bytes left: writes that would grow it further write
    what fits and fail (ENOSPC); writes over its existing bytes succeed."""

    def __init__(self, file, room: int) -> None:
        self.file, self.room = file, room

    def write(self, data) -> int:
        size = os.fstat(self.file.fileno()).st_size
        at, limit = self.file.tell(), size + self.room
        self.room -= max(0, min(at + len(data), limit) - size)
        if at + len(data) > limit:
            self.file.write(bytes(data[: limit - at]))
            raise OSError(28, "No space left on device")
        return self.file.write(data)

    def __getattr__(self, name: str):
        return getattr(self.file, name)


def test_full_disk_is_one_error_and_the_json_stays_valid(tmp_path: Path) -> None:
    sink = JsonSink(tmp_path / "r.json", {"width": 64})
    sink.write(_frame(0))
    sink._file = _FullDisk(sink._file, room=100)  # the next frame does not fit
    with pytest.raises(SinkError, match="No space left on device"):
        sink.write(_frame(1))
    sink._file = sink._file.file
    sink.close()
    assert len(strict_json((tmp_path / "r.json").read_text())["frames"]) == 1
