"""Reliability of inputs (issue 20): one bad image does not stop a folder, phone videos with
rotation metadata come out upright, camera indices are checked before OpenCV sees them and
any image size works or is refused in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from reliability_helpers import (
    SKIER,
    error_lines,
    private_onnx_cache,  # noqa: F401 - autouse
    run_cli,
    set_display_rotation,
    write_clip,
)

from meshpose_core.pipeline.sources import SourceError, VideoSource, WebcamSource

FAST = ["--backend", "torch", "--threads", "1", "--headless", "--layers", "boxes"]


def test_one_bad_image_is_skipped_and_the_folder_finishes(tiny_model, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(SKIER, photos / "a.jpg")
    (photos / "b.jpg").write_bytes(SKIER.read_bytes()[:5000])  # a truncated JPEG
    shutil.copy(SKIER, photos / "c.jpg")
    out, js = tmp_path / "ann", tmp_path / "r.json"
    args = ["--images", photos, "--out", out, "--export-json", js, "--model", tiny_model]
    rc, stdout, err = run_cli([*args, *FAST], capsys)
    assert rc == 3, err  # done, but something was skipped
    skipped = [s for s in err.splitlines() if s.startswith("meshpose-demo: skipped:")]
    skipped += [s for s in err.splitlines() if s.endswith("were skipped")]
    assert len(skipped) == 2 and str(photos / "b.jpg") in skipped[0], err
    assert "1 of 3 images could not be read" in skipped[1] and not error_lines(err)
    assert [f["file"] for f in json.loads(js.read_text())["frames"]] == ["a.jpg", "c.jpg"]
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "c.jpg"]
    assert f"wrote {js}" in stdout


def test_a_folder_of_only_bad_images_is_one_error(tiny_model, tmp_path, capsys) -> None:
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    rc, _, err = run_cli(["--images", tmp_path, "--model", tiny_model, *FAST], capsys)
    assert rc == 1 and "no readable image in folder" in error_lines(err)[0], err


@pytest.mark.parametrize("clockwise", [90, 270])
def test_rotated_phone_video_is_upright(tmp_path: Path, clockwise: int) -> None:
    clip = write_clip(tmp_path / "phone.mp4", frames=3, width=96, height=64)
    set_display_rotation(clip, clockwise)
    frames = list(VideoSource(clip))
    assert len(frames) == 3 and frames[0].image.shape == (96, 64, 3)  # portrait
    grey = frames[0].image[..., 0].astype(int)
    white = slice(None, 48) if clockwise == 90 else slice(48, None)  # the left half went
    black = slice(48, None) if clockwise == 90 else slice(None, 48)  # up (90) or down
    assert grey[white].mean() > 200 and grey[black].mean() < 50
    assert frames[0].image.flags.c_contiguous


def test_rotated_video_coordinates_in_the_export(tiny_model, tmp_path, capsys) -> None:
    clip = write_clip(tmp_path / "phone.mp4", frames=2, width=96, height=64)
    set_display_rotation(clip, 90)
    js = tmp_path / "r.json"
    args = ["--video", clip, "--export-json", js, "--out", tmp_path / "o.mp4"]
    rc, _, err = run_cli([*args, "--model", tiny_model, *FAST], capsys)
    assert rc == 0, err
    meta = json.loads(js.read_text())["meta"]
    assert (meta["width"], meta["height"]) == (64, 96)


@pytest.mark.parametrize("index", ["-1", "100", "99999999999", "1e3"])
def test_camera_index_checked_before_opencv(capsys, monkeypatch, index: str) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("OpenCV must not see this index")

    monkeypatch.setattr(cv2, "VideoCapture", refuse)
    rc, _, err = run_cli(["--webcam", "--camera", index, "--headless"], capsys)
    assert rc == 2 and len(error_lines(err)) == 1 and "--camera" in err, err
    with pytest.raises(SourceError, match="camera index must be 0 to 99"):
        WebcamSource(-1)


def test_any_image_size_works_or_is_one_error_line(tiny_model, tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    folder = tmp_path / "thin"
    folder.mkdir()
    for w, h in ((2000, 20), (20, 2000), (3, 3)):
        cv2.imwrite(str(folder / f"{w}x{h}.png"), rng.integers(0, 256, (h, w, 3), np.uint8))
    js = tmp_path / "r.json"
    args = ["--images", folder, "--export-json", js, "--out", tmp_path / "ann"]
    rc, _, err = run_cli([*args, "--model", tiny_model, *FAST], capsys)
    assert rc == 0 and "Traceback" not in err, err
    assert len(json.loads(js.read_text())["frames"]) == 3
    line = tmp_path / "1x500.png"
    cv2.imwrite(str(line), np.zeros((500, 1, 3), np.uint8))
    rc, _, err = run_cli(["--images", line, "--model", tiny_model, *FAST], capsys)
    assert rc == 1 and "1x500 pixels is too small" in error_lines(err)[0], err


def test_huge_thread_count_is_one_usage_line(capsys) -> None:
    rc, _, err = run_cli(["--threads", "99999999999", "--headless"], capsys)
    assert rc == 2 and err.count("\n") == 1 and "--threads: must be <= 256" in err, err
