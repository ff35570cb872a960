"""What the user controls, as frozen values that the worker applies and QSettings remembers.

Two groups, because they cost differently: ``LayerSettings`` change only how a frame is drawn
(applied on the next frame; the outfits of the garment layer included), ``ModelSettings``
change the pipeline itself (the worker rebuilds its ``Pipeline``, about a second). Defaults
and the mapping onto the library's configuration are the CLI's own (``meshpose_app.options``),
and every setting maps onto a CLI option, so a GUI session can be repeated headless.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType

from PyQt6.QtCore import QSettings

from meshpose_app.options import ModelOptions, pipeline_config
from meshpose_core.pipeline import (
    LAYERS,
    PipelineConfig,
    RenderConfig,
    parse_layers,
)
from meshpose_core.pipeline.layers import DEFAULT_LAYERS, DEFAULT_OPACITY
from meshpose_core.tryon import format_outfit, parse_outfit

# The GUI's layers in shortcut order (keys 1-7). "video" is the frame under the overlays
# (``RenderConfig.video_opacity``); the others are the pipeline's layers of the same name.
GUI_LAYERS: tuple[str, ...] = (
    "video",
    "mesh",
    "visibility",
    "iuv",
    "keypoints",
    "boxes",
    "garment",
)
LAYER_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "video": "Video",
        "mesh": "Shaded mesh",
        "visibility": "Visibility",
        "iuv": "IUV (DensePose)",
        "keypoints": "Skeleton",
        "boxes": "Boxes + IDs",
        "garment": "Garment",
    }
)
# What the garment layer dresses people in until the user picks something else.
DEFAULT_OUTFITS: tuple[tuple[str, ...], ...] = (("striped_tshirt",),)
MODEL_PRESETS: tuple[tuple[str, str], ...] = (
    ("XS", "xs"),
    ("S", "s"),
    ("L", "l"),
    ("XS-BP", "xs_bp"),
)


@dataclass(frozen=True)
class LayerState:
    enabled: bool
    opacity: float  # in [0, 1]


def _default_layer_states() -> Mapping[str, LayerState]:
    shown = dict(parse_layers(DEFAULT_LAYERS))  # the CLI's default --layers
    states = {"video": LayerState(True, RenderConfig.video_opacity)}
    for name in GUI_LAYERS:
        if name in LAYERS:
            states[name] = LayerState(name in shown, shown.get(name, DEFAULT_OPACITY[name]))
    return MappingProxyType(states)


@dataclass(frozen=True)
class LayerSettings:
    """Checkbox and opacity of every GUI layer, and the garment layer's outfits (person k in
    order of appearance wears ``outfits[k % n]``; never empty)."""

    states: Mapping[str, LayerState] = field(default_factory=_default_layer_states)
    outfits: tuple[tuple[str, ...], ...] = DEFAULT_OUTFITS

    def __getitem__(self, name: str) -> LayerState:
        return self.states[name]

    def with_layer(
        self, name: str, enabled: bool | None = None, opacity: float | None = None
    ) -> LayerSettings:
        old = self.states[name]
        new = LayerState(
            old.enabled if enabled is None else bool(enabled),
            old.opacity if opacity is None else min(max(float(opacity), 0.0), 1.0),
        )
        return replace(self, states=MappingProxyType({**self.states, name: new}))

    def with_outfits(self, outfits: tuple[tuple[str, ...], ...]) -> LayerSettings:
        return replace(self, outfits=tuple(tuple(o) for o in outfits) or DEFAULT_OUTFITS)

    def pipeline_layers(self) -> tuple[tuple[str, float], ...]:
        """The enabled pipeline layers with their opacity, in the pipeline's drawing order."""
        return tuple(
            (n, self.states[n].opacity)
            for n in LAYERS
            if n in self.states and self.states[n].enabled
        )

    @property
    def video_opacity(self) -> float:
        video = self.states["video"]
        return video.opacity if video.enabled else 0.0

    @classmethod
    def from_spec(cls, spec: str, base: LayerSettings | None = None) -> LayerSettings:
        """A CLI ``--layers`` value applied to ``base``: listed layers on, other ones off."""
        listed = dict(parse_layers(spec))
        out = base or cls()
        for name in GUI_LAYERS:
            if name in LAYERS:
                out = out.with_layer(name, name in listed, listed.get(name))
        return out


@dataclass(frozen=True)
class ModelSettings(ModelOptions):
    """Everything that needs a new ``Pipeline``: the CLI's ``ModelOptions`` (model, backend
    and the tracking options), as the model panel shows them."""

    @classmethod
    def defaults(cls) -> ModelSettings:
        return cls()

    def overridden_by(self, cli: ModelOptions) -> ModelSettings:
        """These settings with every value that ``cli`` changes from the defaults."""
        base = ModelOptions()
        changed = {
            f.name: getattr(cli, f.name)
            for f in fields(ModelOptions)
            if getattr(cli, f.name) != getattr(base, f.name)
        }
        return replace(self, **changed)

    def pipeline_config(self, layers: LayerSettings, live: bool = False) -> PipelineConfig:
        """The library configuration these settings stand for (the CLI's own mapping); live:
        the input is a camera."""
        return pipeline_config(
            self,
            layers.pipeline_layers(),
            layers.outfits,
            video_opacity=layers.video_opacity,
            live=live,
        )

    def cli_args(self, layers: LayerSettings) -> list[str]:
        """The ``run_demo.py`` options that reproduce these settings headless."""
        spec = ",".join(f"{n}:{o:g}" for n, o in layers.pipeline_layers())
        garments = [f"--garment={format_outfit(o)}" for o in layers.outfits]
        return [
            *(garments if layers["garment"].enabled else []),
            *self.to_args(),
            f"--layers={spec}",
            f"--video-opacity={layers.video_opacity:g}",
        ]


# -- QSettings ------------------------------------------------------------------------------


def load_layers(store: QSettings) -> LayerSettings:
    out = LayerSettings()
    for name in GUI_LAYERS:
        state = out[name]
        out = out.with_layer(
            name,
            store.value(f"layers/{name}/enabled", state.enabled, type=bool),
            store.value(f"layers/{name}/opacity", state.opacity, type=float),
        )
    saved = store.value("garments/outfits", [], type=list)
    try:
        outfits = tuple(parse_outfit(str(spec)) for spec in saved)
    except ValueError:  # an edited settings file: keep the default
        outfits = ()
    return out.with_outfits(outfits)


def save_layers(store: QSettings, layers: LayerSettings) -> None:
    for name, state in layers.states.items():
        store.setValue(f"layers/{name}/enabled", state.enabled)
        store.setValue(f"layers/{name}/opacity", state.opacity)
    store.setValue("garments/outfits", [format_outfit(o) for o in layers.outfits])


def load_model(store: QSettings) -> ModelSettings:
    base = ModelSettings.defaults()
    values = {
        f.name: store.value(
            f"model/{f.name}", getattr(base, f.name), type=type(getattr(base, f.name))
        )
        for f in fields(ModelSettings)
    }
    return replace(base, **values)


def save_model(store: QSettings, model: ModelSettings) -> None:
    for f in fields(ModelSettings):
        store.setValue(f"model/{f.name}", getattr(model, f.name))
