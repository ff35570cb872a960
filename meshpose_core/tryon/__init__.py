"""Virtual try-on: texture and mesh garments on every person's body mesh, occlusion-correct.

Typical use, in the rendering thread::

    lib = GarmentLibrary()  # shipped garments in assets/garments; loads each once
    skirt, tee = lib.load("flared_skirt"), lib.load("striped_tshirt")
    logo = lib.from_image("logo.png", region="chest")
    with TryOnLayer(TryOnConfig(hem_lag=0.5), atlas=lib.atlas) as layer:
        people = [TryOnPerson(vertices_high, (tee, logo, skirt), visibility, track_id)]
        frame = layer.render(frame, people)  # or composite(frame, layer.draw(w, h, people))

In the real-time pipeline this is the ``garment`` layer (``RenderConfig.outfits``,
``--garment``; ``pipeline.layers.person_from_result`` makes a ``TryOnPerson`` of a
``PersonResult``). See ``docs/tryon.md``.
"""

from .atlas import BodyAtlas
from .binding import SurfaceBinding, body_scale, make_binding, pose_binding
from .compositing import GarmentLayer, composite
from .garment import Garment, GarmentError, MeshGarment, TextureGarment, UnknownGarment
from .layer import TryOnConfig, TryOnLayer
from .outfits import Outfit, OutfitCycle, format_outfit, load_outfits, parse_outfit
from .posing import TryOnPerson
from .regions import REGIONS, Region
from .registry import GARMENT_DIR, GarmentLibrary, list_garments, load_garment, shared_library

__all__ = [
    "GARMENT_DIR",
    "REGIONS",
    "BodyAtlas",
    "Garment",
    "GarmentError",
    "GarmentLayer",
    "GarmentLibrary",
    "MeshGarment",
    "Outfit",
    "OutfitCycle",
    "Region",
    "SurfaceBinding",
    "TextureGarment",
    "TryOnConfig",
    "TryOnLayer",
    "TryOnPerson",
    "UnknownGarment",
    "body_scale",
    "composite",
    "format_outfit",
    "list_garments",
    "load_garment",
    "load_outfits",
    "make_binding",
    "parse_outfit",
    "pose_binding",
    "shared_library",
]
