"""The app's options (``meshpose_app.options``): the parser's defaults are the library's config
defaults, one mapping turns options into a ``PipelineConfig`` and back into command-line
options, the JSON export's metadata comes from one function, and the video layer (the frame
faded under the layers) is the library renderer's, reachable from the CLI."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from meshpose_app.cli import main
from meshpose_app.options import (
    ModelOptions,
    build_parser,
    config_from_args,
    pipeline_config,
)
from meshpose_core.pipeline import LayerRenderer, PipelineConfig, RenderConfig, parse_layers
from meshpose_core.pipeline.camera_space import CameraSpaceConfig
from meshpose_core.pipeline.layers import faded
from meshpose_core.pipeline.sinks import export_meta
from meshpose_core.topology import FORMAT_VERSION


def test_no_option_gives_the_library_defaults() -> None:
    args = build_parser().parse_args([])
    assert ModelOptions.from_args(args) == ModelOptions()
    assert config_from_args(args) == PipelineConfig()


def test_every_model_option_reaches_the_config_and_comes_back_as_arguments() -> None:
    chosen = ModelOptions(
        model="s", backend="onnx", device="cpu", threads=3, renderer="cpu", max_people=4,
        smoothing=0.5, detect_every=7, always_detect=True, detection_lag=0,
        detector="blazepose", surface="body",
        detector_score=0.35,
    )  # fmt: skip
    assert all(getattr(chosen, k) != v for k, v in vars(ModelOptions()).items())
    args = build_parser().parse_args(chosen.to_args())
    assert ModelOptions.from_args(args) == chosen
    config = pipeline_config(chosen, parse_layers("mesh:0.5"), (("striped_tshirt",),))
    assert (config.network.model, config.network.backend) == ("s", "onnx")
    assert (config.network.device, config.network.threads) == ("cpu", 3)
    assert config.render.renderer == "cpu" and config.render.layers == (("mesh", 0.5),)
    assert config.render.outfits == (("striped_tshirt",),)
    assert config.tracker.max_tracks == 4 and config.tracker.detect_every == 7
    assert config.smoothing.strength == 0.5 and not config.motion.enabled
    assert config.detection_lag == 0
    assert config.person_detector == "blazepose" and config.yolox.score_threshold == 0.35
    assert not config.network.outline and pipeline_config(ModelOptions(), ()).network.outline


def test_output_options_reach_the_config() -> None:
    args = build_parser().parse_args(
        ["--export-iuv", "x", "--export-glb", "a.glb", "--fov", "50", "--video-opacity", "0.25",
         "--iuv-fill", "0"]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.render.densepose and config.render.video_opacity == 0.25
    assert config.render.iuv_fill_reach == 0.0
    assert config.camera == CameraSpaceConfig(True, 50.0, None)


def test_export_meta_has_the_camera_only_with_camera_space() -> None:
    meta = export_meta("m", "clip.mp4", 640, 480, 25, CameraSpaceConfig())
    assert meta == {
        "model": "m", "input": "clip.mp4", "width": 640, "height": 480, "fps": 25.0,
        "topology": f"meshpose-low-518 v{FORMAT_VERSION}",
    }  # fmt: skip
    lifted = export_meta("m", "clip.mp4", 640, 480, 25, CameraSpaceConfig(True, 60.0, 1.8))
    assert lifted["camera"]["fov_deg"] == 60.0 and lifted["camera"]["body_height_m"] == 1.8


def test_video_layer_fades_the_frame_under_the_layers() -> None:
    image = np.full((40, 60, 3), 200, np.uint8)
    assert faded(image, 1.0) is image
    np.testing.assert_array_equal(faded(image, 0.0), 0)
    np.testing.assert_array_equal(faded(image, 0.5), 100)
    renderer = LayerRenderer(RenderConfig(layers=parse_layers("hud"), video_opacity=0.25))
    try:
        out = renderer.render(image, [], ["x"])
        assert out[-1, -1].tolist() == [50, 50, 50] and image[0, 0, 0] == 200  # input kept
        renderer.set_layers(parse_layers("boxes"), 0.0, ())
        assert renderer.render(image, []).max() == 0
        with pytest.raises(ValueError, match="video opacity"):
            renderer.set_layers(parse_layers("boxes"), 1.5, ())
        assert renderer.config.video_opacity == 0.0  # a refused change changes nothing
    finally:
        renderer.close()
    with pytest.raises(ValueError, match="video opacity"):
        LayerRenderer(RenderConfig(video_opacity=-0.1))


def test_cli_video_opacity(tiny_model, tmp_path, capsys) -> None:
    image = tmp_path / "in" / "grey.png"
    image.parent.mkdir()
    cv2.imwrite(str(image), np.full((48, 64, 3), 180, np.uint8))
    base = ["--images", str(image), "--model", str(tiny_model), "--backend", "torch"]
    base += ["--device", "cpu", "--threads", "1", "--layers", "boxes", "--headless"]
    for opacity, expected in (("1", 180), ("0.5", 90), ("0", 0)):
        out = tmp_path / f"out{opacity}"
        assert main([*base, "--out", str(out), "--video-opacity", opacity]) == 0
        written = cv2.imread(str(out / "grey.png"))
        assert np.abs(written.astype(int) - expected).max() <= 1, opacity
    capsys.readouterr()
    assert main([*base, "--video-opacity", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--video-opacity: must be <= 1, got 2" in err


def test_gui_video_layer_maps_to_the_library_and_the_cli() -> None:
    pytest.importorskip("PyQt6")
    from meshpose_app.gui.settings import LayerSettings, ModelSettings

    layers = LayerSettings().with_layer("video", opacity=0.3)
    model = replace(ModelSettings.defaults(), threads=1)
    assert model.pipeline_config(layers).render.video_opacity == pytest.approx(0.3)
    argv = model.cli_args(layers)
    assert "--video-opacity=0.3" in argv
    gui = model.pipeline_config(layers)  # outfits are the CLI's only with the garment layer
    gui = replace(gui, render=replace(gui.render, outfits=()))
    assert config_from_args(build_parser().parse_args(argv)) == gui
    hidden = layers.with_layer("video", enabled=False)
    assert model.pipeline_config(hidden).render.video_opacity == 0.0


def test_window_starts_from_the_command_line_options(tmp_path, monkeypatch) -> None:
    pytest.importorskip("PyQt6")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import QSettings

    from meshpose_app.gui.main_window import initial_settings
    from meshpose_app.gui.settings import ModelSettings

    store = QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)
    args = build_parser().parse_args(
        ["--video", "clip.mp4", "--video-opacity", "0.4", "--smooth", "0.5", "--layers", "iuv"]
    )
    model, layers = initial_settings(store, args)
    assert model.smoothing == 0.5 and model.threads == ModelOptions().threads
    assert layers.video_opacity == pytest.approx(0.4)
    assert layers.pipeline_layers() == (("iuv", 0.8),)
    untouched = initial_settings(store, build_parser().parse_args(["--video", "clip.mp4"]))
    assert untouched[1].video_opacity == 1.0 and untouched[0] == ModelSettings()


def test_pipeline_set_layers_makes_a_renderer_when_there_was_none(tiny_model) -> None:
    from meshpose_core.pipeline import Frame, Pipeline

    chosen = ModelOptions(model=str(tiny_model), backend="torch", device="cpu", threads=1)
    frame = Frame(np.full((48, 64, 3), 120, np.uint8), 0.0, 0)
    with Pipeline(pipeline_config(chosen, ())) as pipe:
        assert pipe.renderer is None and pipe.process(frame).annotated is None
        pipe.set_layers((), 0.5)  # the video alone, faded: a picture to show
        assert pipe.renderer is not None and pipe.config.render.video_opacity == 0.5
        assert pipe.process(frame).annotated.max() == 60
        pipe.set_layers(parse_layers("boxes"), 1.0)
        assert pipe.config.render.layers == (("boxes", 1.0),)
        np.testing.assert_array_equal(pipe.process(frame).annotated, frame.image)


def test_the_auto_detector_is_blazepose_for_a_camera_and_the_pictures_choice_for_files() -> None:
    from meshpose_core.detection import resolve_person_detector

    parse = build_parser().parse_args
    assert ModelOptions().detector == "auto"
    assert config_from_args(parse(["--video", "clip.mp4"])).person_detector == "auto"
    assert config_from_args(parse(["--webcam"])).person_detector == "blazepose"
    assert config_from_args(parse(["--webcam", "--detector", "yolox"])).person_detector == "yolox"
    assert resolve_person_detector("blazepose", live=False) == "blazepose"
    with pytest.raises(ValueError, match="unknown person detector"):
        resolve_person_detector("ssd", live=True)
