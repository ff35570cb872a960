"""Camera-space meshes: exact un-projection with the true scale, errors on synthetic frames
with known cameras within what the assumptions allow, and the pipeline/JSON/NPZ fields."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from meshpose_core.bench.camera_bench import camera_errors, synthetic_people
from meshpose_core.pipeline import NetworkConfig, NpzSink, Pipeline, PipelineConfig
from meshpose_core.pipeline.camera_space import (
    DEFAULT_FOV_DEG,
    CameraLifter,
    CameraSpaceConfig,
    camera_meta,
    focal_px,
    unproject,
)
from meshpose_core.pipeline.layers import RenderConfig
from meshpose_core.pipeline.sources import read_image
from meshpose_core.topology import Topology

SKIER = Path(__file__).resolve().parents[1] / "assets/test_images/coco_000000000785_skier.jpg"
pytestmark = pytest.mark.usefixtures("every_mesh_drawn")  # random-init meshes (conftest)


@pytest.fixture(scope="module")
def adults():
    return list(synthetic_people(40, seed=1, shapes="adults"))


def test_focal_and_default_field_of_view() -> None:
    assert focal_px(640, 480) == pytest.approx(640.0)  # f = the larger side at 53.13 deg
    assert focal_px(480, 640, 90.0) == pytest.approx(320.0)
    assert abs(DEFAULT_FOV_DEG - 53.1301) < 1e-3
    with pytest.raises(ValueError, match="field of view"):
        CameraSpaceConfig(True, fov_deg=0.0)
    with pytest.raises(ValueError, match="height"):
        CameraSpaceConfig(True, height_m=12.0)


def test_unproject_inverts_the_projection_exactly() -> None:
    rng = np.random.default_rng(0)
    cam = rng.uniform([-1, -1, 3], [1, 1, 6], (50, 3))  # camera metres
    f, centre, d0 = 800.0, np.array([319.5, 239.5]), 4.0
    px = np.concatenate([cam[:, :2] / cam[:, 2:] * f + centre, (cam[:, 2:] - d0) * f / d0], 1)
    np.testing.assert_allclose(unproject(px, f / d0, f, centre), cam, atol=1e-5)


def test_true_height_gives_metric_meshes_within_a_few_percent(adults) -> None:
    e = camera_errors(adults, tell_height=True)
    assert e["depth_% median"] < 3.0
    assert e["shape_mm median"] < 15.0


def test_assumed_template_height_errs_by_the_height_ratio(adults) -> None:
    assumed = camera_errors(adults)
    told = camera_errors(adults, tell_height=True)
    assert assumed["depth_% median"] > told["depth_% median"]
    assert assumed["depth_% median"] < 15.0  # adults are 1.50-1.95 m, the template 1.62 m
    template = CameraLifter(CameraSpaceConfig(True)).height_m
    for p in adults[:10]:  # the depth error is the height ratio (up to the pose's few %)
        _, high = CameraLifter(CameraSpaceConfig(True))(640, 480, p.low_px, p.high_px)
        ratio = high[:, 2].mean() / p.high_camera[:, 2].mean()
        assert ratio == pytest.approx(template / p.height_m, rel=0.08)


def test_a_wrong_field_of_view_scales_depth_and_giving_it_fixes_it() -> None:
    people = list(synthetic_people(20, seed=2, shapes="adults", fov_deg=70.0))
    wrong = camera_errors(people, tell_height=True)
    right = camera_errors(people, assumed_fov_deg=70.0, tell_height=True)
    assert right["depth_% median"] < 3.0 < wrong["depth_% median"]


def test_pipeline_json_and_npz_carry_camera_space_meshes(tiny_model, tmp_path, monkeypatch):
    from meshpose_core.pipeline.sinks import person_json

    monkeypatch.setenv("MESHPOSE_CACHE", str(tmp_path / "cache"))
    image = read_image(SKIER)
    config = PipelineConfig(
        network=NetworkConfig(model=str(tiny_model)),
        render=RenderConfig(layers=()),
        camera=CameraSpaceConfig(True, fov_deg=60.0),
    )
    with Pipeline(config) as pipe:
        result = pipe.process(image)
    assert result.people
    p = result.people[0]
    assert p.vertices_camera.shape == (518, 3) and p.vertices_high_camera.shape == (6890, 3)
    assert (p.vertices_camera[:, 2] > 0).all()
    # re-projected with the assumed camera, the camera-space mesh lands on the image mesh
    f = focal_px(image.shape[1], image.shape[0], 60.0)
    centre = np.array([image.shape[1] / 2 - 0.5, image.shape[0] / 2 - 0.5])
    back = p.vertices_camera[:, :2] / p.vertices_camera[:, 2:] * f + centre
    np.testing.assert_allclose(back, p.vertices[:, :2], atol=1e-2)
    person = json.loads(json.dumps(person_json(p)))
    assert len(person["vertices_camera"]) == 518
    meta = camera_meta(config.camera, image.shape[1], image.shape[0])
    assert meta["fov_deg"] == 60.0 and meta["body_height_m"] == pytest.approx(
        float(np.ptp(Topology.load("low").vertices[:, 1])), abs=1e-3
    )
    with NpzSink(tmp_path / "a.npz") as sink:
        sink.write(result)
    with np.load(tmp_path / "a.npz") as z:
        assert z["vertices_high_camera"].shape == (len(result.people), 6890, 3)


def test_cli_json_has_the_camera_and_validates(tiny_model, tmp_path, monkeypatch) -> None:
    from meshpose_app.cli import main
    from meshpose_core.pipeline.sinks import SCHEMA_PATH

    jsonschema = pytest.importorskip("jsonschema")
    monkeypatch.setenv("MESHPOSE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "a.json"
    args = ["--images", SKIER, "--model", tiny_model, "--layers", "", "--export-json", out]
    assert main([str(a) for a in [*args, "--camera-space", "--body-height", "1.8"]]) == 0
    data = json.loads(out.read_text())
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    assert data["meta"]["camera"]["body_height_m"] == 1.8
    assert all("vertices_camera" in p for f in data["frames"] for p in f["people"])
    assert main([str(a) for a in [*args, "--camera-space", "--fov", "500"]]) == 2
