"""Sources and sinks: every input becomes HxWx3 uint8 RGB frames; bad inputs fail with one
clear SourceError; the video sink keeps size and rate."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from meshpose_core.pipeline.sinks import VideoSink, even_padded
from meshpose_core.pipeline.sources import (
    ImageSource,
    SourceError,
    VideoSource,
    WebcamSource,
    as_rgb8,
    open_source,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "assets" / "samples" / "gym_run.mp4"


def write_video(
    path: Path,
    frames: list[np.ndarray],
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    fmt: str = "rgb24",
    options: dict | None = None,
) -> Path:
    """Encode frames (in pixel format ``fmt``) at 25 fps."""
    with av.open(str(path), "w", options=options or {}) as c:
        s = c.add_stream(codec, rate=25)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = pix_fmt
        for f in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(f, format=fmt).reformat(format=pix_fmt)))
        c.mux(s.encode(None))
    return path


def test_sample_video_frames_are_rgb_with_timestamps() -> None:
    with VideoSource(SAMPLE) as src:
        assert src.fps == pytest.approx(30.0) and src.frame_count == 120
        frames = []
        for f in src:
            frames.append(f)
            if len(frames) == 3:
                break
    assert [f.index for f in frames] == [0, 1, 2]
    np.testing.assert_allclose([f.timestamp for f in frames], [0, 1 / 30, 2 / 30], atol=1e-3)
    img = frames[0].image
    assert img.shape == (362, 640, 3) and img.dtype == np.uint8 and img.flags.c_contiguous


def test_grayscale_odd_sized_video(tmp_path: Path) -> None:
    frames = [np.full((121, 161), 40 * i, np.uint8) for i in range(3)]
    path = write_video(tmp_path / "gray.mkv", frames, codec="ffv1", pix_fmt="gray", fmt="gray")
    got = list(VideoSource(path))
    assert len(got) == 3 and got[2].image.shape == (121, 161, 3)
    assert (got[2].image == 80).all()


def test_bad_videos_fail_with_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 100)
    frames = [np.full((64, 64, 3), 8 * i, np.uint8) for i in range(30)]
    good = write_video(tmp_path / "good.mp4", frames, options={"movflags": "+faststart"})
    data = good.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    cases = {
        tmp_path / "missing.mp4": "not found",
        garbage: "cannot read video",
        tmp_path: "is a folder",
        REPO / "assets/test_images/coco_000000000785_skier.jpg": "is an image",
    }
    for path, message in cases.items():
        with pytest.raises(SourceError, match=message) as err:
            VideoSource(path)
        assert "\n" not in str(err.value)
    with pytest.raises(SourceError, match="truncated") as err:
        list(VideoSource(truncated))
    assert "\n" not in str(err.value)


def test_images_sorted_gray_alpha_16bit_and_errors(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "b_gray.png"), np.full((31, 17), 200, np.uint8))
    bgra = np.zeros((20, 30, 4), np.uint8)
    bgra[..., 0] = 255  # blue
    cv2.imwrite(str(tmp_path / "a_alpha.png"), bgra)
    cv2.imwrite(str(tmp_path / "c_16bit.png"), np.full((8, 8, 3), 65535, np.uint16))
    (tmp_path / "notes.txt").write_text("ignored")
    frames = list(ImageSource(tmp_path))
    assert [f.name for f in frames] == ["a_alpha.png", "b_gray.png", "c_16bit.png"]
    assert all(f.image.dtype == np.uint8 and f.image.shape[2] == 3 for f in frames)
    assert tuple(frames[0].image[0, 0]) == (0, 0, 255)  # RGB order
    assert frames[1].image.shape == (31, 17, 3) and (frames[1].image == 200).all()
    assert (frames[2].image == 255).all()

    (tmp_path / "d_corrupt.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(SourceError, match="cannot decode image"):  # a single file: an error
        list(ImageSource(tmp_path / "d_corrupt.jpg"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="no images"):
        ImageSource(empty)
    with pytest.raises(SourceError, match=r"unsupported image format '\.txt'"):
        ImageSource(tmp_path / "notes.txt")
    with pytest.raises(SourceError, match="not found"):
        open_source(images=tmp_path / "nope.png")


def test_missing_camera_says_what_to_do() -> None:
    with pytest.raises(SourceError, match=r"no camera found at index 97.*--video") as err:
        WebcamSource(97)
    assert "\n" not in str(err.value)


def test_as_rgb8_shapes() -> None:
    assert as_rgb8(np.zeros((5, 7), np.uint8)).shape == (5, 7, 3)
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 2] = 9
    assert as_rgb8(bgr)[0, 0, 0] == 9 and as_rgb8(bgr, "rgb")[0, 0, 2] == 9
    with pytest.raises(SourceError):
        as_rgb8(np.zeros((2, 2, 2), np.uint8))


def test_video_sink_keeps_rate_and_pads_odd_sizes(tmp_path: Path) -> None:
    assert even_padded(np.zeros((4, 6, 3), np.uint8)).shape == (4, 6, 3)
    assert even_padded(np.zeros((5, 7, 3), np.uint8)).shape == (6, 8, 3)
    path = tmp_path / "v.mp4"
    with VideoSink(path, 101, 60, 29.97) as sink:
        for i in range(5):
            sink.write(np.full((60, 101, 3), 50 * i, np.uint8))
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert (s.width, s.height) == (102, 60)
        assert float(s.average_rate) == pytest.approx(29.97, abs=1e-3)
        assert len(list(c.decode(s))) == 5
