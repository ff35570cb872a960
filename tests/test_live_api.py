"""The one-call API: the README example runs as written, BGR / RGB / path inputs give the same
people, image mode forgets tracks between calls, nothing is drawn unless asked."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from meshpose_core import MeshPoseLive
from meshpose_core.live import to_rgb
from meshpose_core.pipeline import SourceError

REPO = Path(__file__).resolve().parents[1]
STREET = REPO / "assets" / "test_images" / "coco_000000252219_street.jpg"
SKIER = REPO / "assets" / "test_images" / "coco_000000000785_skier.jpg"
# the tests with the random-init ``tiny_model`` draw its meshes (conftest); the README
# example runs the shipped weights
pytestmark = pytest.mark.usefixtures("every_mesh_drawn")


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MESHPOSE_CACHE", str(tmp_path / "cache"))


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Inference from Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs(monkeypatch, capsys) -> None:
    monkeypatch.chdir(REPO)
    namespace: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)
    people = namespace["result"].people
    assert people, "the shipped model finds the people of the street photo"
    h, w = cv2.imread(str(STREET)).shape[:2]
    for p in people:
        assert p.vertices.shape == (6890, 3) and p.faces.shape == (13776, 3)
        assert p.visibility.shape == (6890,) and p.keypoints.shape == (17, 3)
        assert p.vertices_camera.shape == (6890, 3) and (p.vertices_camera[:, 2] > 0).all()
        assert p.iuv.shape == (h, w, 3) and p.mask.shape == (h, w)
        assert (p.iuv[~p.mask] == 0).all() and (p.iuv[p.mask][:, 0] > 0).all()
    assert f"{len(people)} people" in capsys.readouterr().out


def summary(result) -> list[tuple[int, np.ndarray]]:
    return [(p.track_id, p.vertices) for p in result.people]


def test_bgr_rgb_and_path_inputs_give_the_same_people(tiny_model) -> None:
    bgr = cv2.imread(str(STREET))
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    with MeshPoseLive(mode="image", model=tiny_model, draw="mesh,boxes") as live:
        a, b, c = live(bgr), live(rgb, color="rgb"), live(STREET)
        wrong = live(bgr, color="rgb")  # a BGR array said to be RGB: red and blue swapped
    assert a.people
    for x in (b, c):
        assert len(x.people) == len(a.people)
        for (ia, va), (ix, vx) in zip(summary(a), summary(x), strict=True):
            assert ia == ix
            np.testing.assert_allclose(va, vx, atol=1e-3)
    # annotated comes back in the call's colour order
    np.testing.assert_array_equal(a.annotated, b.annotated[..., ::-1])
    np.testing.assert_array_equal(a.annotated, c.annotated)
    assert not np.array_equal(wrong.annotated, a.annotated)
    np.testing.assert_array_equal(to_rgb(bgr), rgb)
    np.testing.assert_array_equal(to_rgb(rgb, "rgb"), rgb)
    np.testing.assert_array_equal(to_rgb(STREET), rgb)


def test_image_mode_forgets_tracks_video_mode_keeps_them(tiny_model) -> None:
    with MeshPoseLive(mode="image", model=tiny_model) as live:
        first, second = live(STREET), live(SKIER)
        assert first.annotated is None  # nothing drawn unless asked
    assert min(p.track_id for p in second.people) == 1
    with MeshPoseLive(mode="video", model=tiny_model) as live:
        first, again = live(STREET), live(STREET)
    assert {p.track_id for p in first.people} & {p.track_id for p in again.people}
    assert first.densepose is None and first.people[0].iuv is None


def test_bad_inputs_are_one_line_errors(tiny_model, tmp_path) -> None:
    with pytest.raises(ValueError, match="mode"):
        MeshPoseLive(mode="photo", model=tiny_model)
    with MeshPoseLive(mode="image", model=tiny_model) as live:
        with pytest.raises(ValueError, match="color"):
            live(np.zeros((8, 8, 3), np.uint8), color="hsv")
        with pytest.raises(SourceError, match="pixel type"):
            live(np.zeros((8, 8, 3), np.float32))
        with pytest.raises(SourceError, match=r"not found|cannot"):
            live(tmp_path / "missing.jpg")
        with pytest.raises(ValueError, match="path or a numpy array"):
            live([1, 2, 3])  # type: ignore[arg-type]
