"""Render the pictures of docs/tryon.md.

    python tools/render_tryon_docs.py [--out docs/images]
    python tools/render_tryon_docs.py --model xs_bp|PATH \\
        [--frames assets/samples/gym_run.mp4:45 other_clip.mp4:60,120 ...] \\
        [--garments flared_skirt,striped_tshirt+crossbody_bag] [--layers garment]

Without ``--model``: every shipped garment on the posed fixture bodies (front and back)
over a neutral backdrop with the body drawn in a skin tone, several people with different
outfits in one frame, and the occlusion / visibility cases. With ``--model``:
``tryon_real.png`` (a JPEG ``tryon_real.jpg`` past ``--max-bytes``), one row per garment
(default: every shipped one) and one column per real frame; each clip goes through the
MeshPose Live pipeline from its start up to its chosen frames (the tracker is warm, as in
the CLI) and the pipeline's garment layer dresses everyone found there; tiles are cut
around the people. Missing clips are skipped with a note; fewer than two frames is an
error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.render import (  # noqa: E402
    Rasterizer,
    create_rasterizer,
    fit_orthographic,
    overlay,
    shade_mesh,
)
from meshpose_core.topology import Topology  # noqa: E402
from meshpose_core.tryon import (  # noqa: E402
    Garment,
    GarmentLibrary,
    TryOnConfig,
    TryOnLayer,
    TryOnPerson,
)

PANEL = (240, 360)  # width, height
SKIN = (214, 170, 140)
ARMS_CROSSED_POSE = 17885  # pose library index: both forearms across the chest
BACKDROP = ((236, 236, 232), (200, 202, 206))  # top, bottom


def backdrop(width: int, height: int) -> np.ndarray:
    """A neutral vertical gradient, (H, W, 3) uint8."""
    t = np.linspace(0, 1, height)[:, None, None]
    top, bottom = (np.array(c, np.float32) for c in BACKDROP)
    return np.broadcast_to(top + (bottom - top) * t, (height, width, 3)).astype(np.uint8)


def network_px(vertices_px: np.ndarray) -> np.ndarray:
    """Renderer pixel convention (centres at +0.5) -> the network's (centres at 0)."""
    out = np.array(vertices_px, np.float32, copy=True)
    out[:, :2] -= 0.5
    return out


def body_frame(
    rast: Rasterizer, topo: Topology, bodies_px: Sequence[np.ndarray], width: int, height: int
) -> np.ndarray:
    """Stand-in for a video frame: the bodies shaded in a skin tone over the backdrop."""
    meshes = [(b, topo.faces) for b in bodies_px]
    frags = rast.rasterize(meshes, width, height)
    layer = shade_mesh(frags, meshes, [SKIN] * len(meshes))
    return overlay(backdrop(width, height), layer, frags.mask)


def fixture_panel(
    rast: Rasterizer,
    layer: TryOnLayer,
    topo: Topology,
    body_m: np.ndarray,
    garments: Sequence[Garment],
    yaw: float = 0.0,
    visibility: np.ndarray | None = None,
) -> np.ndarray:
    w, h = PANEL
    px = fit_orthographic(body_m, w, h, margin=0.05, yaw_deg=yaw)
    frame = body_frame(rast, topo, [px], w, h)
    person = TryOnPerson(network_px(px), tuple(garments), visibility=visibility)
    return layer.render(frame, [person])


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = np.ascontiguousarray(img.copy())
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (40, 40, 40), 1, cv2.LINE_AA)
    return out


def garment_rows(
    rast: Rasterizer,
    layer: TryOnLayer,
    topo: Topology,
    lib: GarmentLibrary,
    fixtures: np.ndarray,
    out: Path,
) -> list[str]:
    """One picture per garment: the four fixtures from the front, one from the back."""
    written = []
    for name in lib.names():
        g = lib.load(name)
        panels = [fixture_panel(rast, layer, topo, b, [g]) for b in fixtures]
        panels.append(label(fixture_panel(rast, layer, topo, fixtures[2], [g], yaw=180), "back"))
        path = out / f"tryon_{name}.png"
        Image.fromarray(np.concatenate(panels, axis=1)).save(path)
        written.append(path.name)
    return written


def outfits_frame(
    rast: Rasterizer,
    layer: TryOnLayer,
    topo: Topology,
    lib: GarmentLibrary,
    fixtures: np.ndarray,
    out: Path,
) -> str:
    """Three people, three outfits, overlapping: depth-tested against each other."""
    w, h = 720, 420
    outfits = [
        ["striped_tshirt", "flared_skirt", "crossbody_bag"],
        ["patterned_leggings", "loose_coat"],
        ["striped_tshirt", "chest_logo", "patterned_leggings"],
    ]
    bodies = []
    for i, (body, yaw) in enumerate(((fixtures[2], 20), (fixtures[3], -10), (fixtures[0], 0))):
        px = fit_orthographic(body, 300, 400, margin=0.04, yaw_deg=yaw)
        px[:, 0] += 40 + i * 200
        px[:, 1] += 10
        px[:, 2] += (100.0, -100.0, 60.0)[i]  # the middle person stands nearest
        bodies.append(px)
    frame = body_frame(rast, topo, bodies, w, h)
    people = [
        TryOnPerson(network_px(b), tuple(lib.load(n) for n in names))
        for b, names in zip(bodies, outfits, strict=True)
    ]
    path = out / "tryon_outfits.png"
    Image.fromarray(layer.render(frame, people)).save(path)
    return path.name


def zoom(img: np.ndarray, centre: tuple[int, int], half: int, size: int) -> np.ndarray:
    """A square crop around ``centre`` (x, y) scaled to ``size`` px (nearest: shows pixels)."""
    x, y = centre
    crop = img[max(y - half, 0) : y + half, max(x - half, 0) : x + half]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_NEAREST)


def library_bodies(indices: Sequence[int]) -> np.ndarray:
    """High-level bodies (mean shape) in poses of the mocap library (CMU / MakeHuman), metres."""
    import torch

    from meshpose_core.body import BodyModel
    from meshpose_core.body.poses import PoseLibrary

    poses, model = PoseLibrary.load(), BodyModel.load()
    chosen = poses.to_model(poses.poses[list(indices)], model.bone_names).astype(np.float32)
    with torch.no_grad():
        full = model(torch.zeros(len(indices), model.num_shape), torch.from_numpy(chosen))
        return model.to_level(full, "high").numpy()


def occlusion_cases(
    rast: Rasterizer,
    layer: TryOnLayer,
    topo: Topology,
    lib: GarmentLibrary,
    fixtures: np.ndarray,
    out: Path,
) -> str:
    """Arms crossed in front of the shirt print (zoomed), a body whose legs are marked not
    visible (as if behind a table), and side views that show the garments' depth."""
    w, h = PANEL
    crossed = library_bodies([ARMS_CROSSED_POSE])[0]
    tee = [lib.load("patterned_leggings"), lib.load("striped_tshirt"), lib.load("chest_logo")]
    arms = fixture_panel(rast, layer, topo, crossed, tee)
    px = fit_orthographic(crossed, w, h, margin=0.05)
    chest = px[np.argmin(np.abs(topo.vertices[:, 1] - 0.33) + np.abs(topo.vertices[:, 0]))]
    inset = zoom(arms, (int(chest[0]), int(chest[1])), 40, h // 2)
    vis = np.clip((topo.vertices[:, 1] + 0.05) / 0.15, 0, 1)  # ~0 below the hips
    outfit = [lib.load("flared_skirt"), lib.load("striped_tshirt")]
    faded = fixture_panel(rast, layer, topo, fixtures[1], outfit, visibility=vis)
    full = fixture_panel(rast, layer, topo, fixtures[1], outfit)
    coat = [lib.load("patterned_leggings"), lib.load("loose_coat")]
    side = fixture_panel(rast, layer, topo, fixtures[2], coat, yaw=70)
    bag = fixture_panel(rast, layer, topo, fixtures[0], [lib.load("crossbody_bag")], yaw=-60)
    blank = np.full((h - h // 2, h // 2, 3), 255, np.uint8)
    column = np.concatenate([inset, label(blank, "zoom: arms hide print")], axis=0)
    row = [label(arms, "arms crossed"), column, label(full, "visible")]
    row += [label(faded, "legs: low visibility"), label(side, "side"), label(bag, "side")]
    path = out / "tryon_occlusion.png"
    Image.fromarray(np.concatenate(row, axis=1)).save(path)
    return path.name


def template_preview(lib: GarmentLibrary, out: Path) -> str:
    """The UV template next to the shipped atlas garments, small."""
    d = lib.directory
    tiles = [np.asarray(Image.open(d / "uv_template.png").convert("RGBA").resize((360, 360)))]
    for name in ("striped_tshirt", "patterned_leggings", "chest_logo"):
        img = np.asarray(Image.open(d / f"{name}.png").convert("RGBA").resize((360, 360)))
        yy, xx = np.indices((360, 360)) // 12
        check = ((yy + xx) % 2 * 30 + 200)[..., None]
        a = img[..., 3:4] / 255.0
        tiles.append(np.concatenate([img[..., :3] * a + check * (1 - a), a * 0 + 255], -1))
    row = np.concatenate([t.astype(np.uint8) for t in tiles], axis=1)
    path = out / "tryon_atlas.png"
    Image.fromarray(row).save(path)
    return path.name


MEDIA = ROOT.parent / "shared" / "media" / "videos"
DEFAULT_FRAMES = (  # clips missing here are skipped with a note
    f"{ROOT / 'assets' / 'samples' / 'gym_run.mp4'}:45",
    f"{MEDIA / 'romp_sample_video2.mp4'}:60",
    f"{MEDIA / 'mmpose_demo_street.mp4'}:4",
)
REAL_LAYERS = "garment"
TILE_HEIGHT = 300
CROP_MARGIN = 0.12  # around the people's boxes, as a fraction of their union's height
ROW_LABEL = 180  # px of the garment-name column
HEADER = 26  # px of the frame-label strip


def people_crop(people: Sequence, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the union of the people's boxes with a margin, inside the frame;
    the whole frame when nobody was found."""
    if not people:
        return 0, 0, width, height
    boxes = np.array([p.box for p in people], np.float64)
    x0, y0 = boxes[:, :2].min(0)
    x1, y1 = boxes[:, 2:].max(0)
    pad = CROP_MARGIN * (y1 - y0)
    x0, y0 = max(int(x0 - pad), 0), max(int(y0 - pad), 0)
    x1, y1 = min(int(np.ceil(x1 + pad)), width), min(int(np.ceil(y1 + pad)), height)
    return x0, y0, x1, y1


def real_frames(args: argparse.Namespace, lib: GarmentLibrary, out: Path) -> list[str]:
    """Every outfit (one per row) on real frames (one per column) through the MeshPose Live
    pipeline: each clip is processed from its start up to its chosen frames (the tracker is
    warm, as in the CLI), then the pipeline's garment layer dresses everyone found there;
    the tiles are cut around the people -> ``tryon_real.png``."""
    from meshpose_core.pipeline import (
        LayerRenderer,
        ModelUnavailable,
        NetworkConfig,
        Pipeline,
        PipelineConfig,
        RenderConfig,
        parse_layers,
        results_at,
    )
    from meshpose_core.pipeline.network import model_path
    from meshpose_core.tryon import GarmentError, load_outfits, parse_outfit
    from tools.render_results_docs import label as caption
    from tools.render_results_docs import parse_clip, save_small

    try:
        names = args.garments.split(",") if args.garments else lib.names()
        outfits = [parse_outfit(n) for n in names]
        load_outfits(tuple(outfits))  # a bad name or file: one line, before any frame
        layers = parse_layers(args.layers)
        specs = [parse_clip(spec) for spec in args.frames or DEFAULT_FRAMES]
        model_path(args.model)
    except (GarmentError, ValueError, argparse.ArgumentTypeError, ModelUnavailable) as exc:
        raise SystemExit(f"error: {exc}") from None
    clips = []
    for clip, frames in specs:
        if clip.is_file():
            clips.append((clip, frames))
        else:
            print(f"note: {clip} not found (skipped)", file=sys.stderr)
    if sum(len(frames) for _, frames in clips) < 2:
        raise SystemExit("error: fewer than two real frames to render; give --frames")
    config = PipelineConfig(
        network=NetworkConfig(model=args.model, threads=args.threads),
        render=RenderConfig(layers=()),  # the pipeline draws nothing; the frames we keep below
    )
    columns: list[tuple[str, list[np.ndarray]]] = []  # (frame label, one tile per outfit)
    with Pipeline(config) as pipe:
        # the pipeline's layer renderer, one outfit at a time (one GL context in this thread)
        renderer = LayerRenderer(RenderConfig(layers=layers, outfits=(outfits[0],)))
        try:
            for clip, frames in clips:
                found = set()
                for frame, result in results_at(pipe, clip, frames):
                    x0, y0, x1, y1 = people_crop(result.people, frame.width, frame.height)
                    size = (round((x1 - x0) * TILE_HEIGHT / (y1 - y0)), TILE_HEIGHT)
                    tiles = []
                    for outfit in outfits:
                        renderer.reset()  # everyone found wears this row's outfit
                        renderer.set_outfits((outfit,))
                        image = renderer.render(frame.image, result.people)[y0:y1, x0:x1]
                        tiles.append(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
                    n = len(result.people)
                    columns.append((f"{clip.stem} #{frame.index}, {n} found", tiles))
                    found.add(frame.index)
                if missing := sorted(set(frames) - found):
                    print(f"note: {clip} has no frame {missing} (skipped)", file=sys.stderr)
        finally:
            renderer.close()
        print(f"model {pipe.network.name}, rasterizer {renderer.backend}")
    if len(columns) < 2:
        raise SystemExit(f"error: {len(columns)} real frame(s) found; at least two are needed")

    widths = [tiles[0].shape[1] for _, tiles in columns]
    header = np.full((HEADER, ROW_LABEL + sum(widths), 3), 40, np.uint8)
    x = ROW_LABEL
    for (text, _), w in zip(columns, widths, strict=True):
        header = caption(header, text, (x + 6, 4), 14)
        x += w
    strips = [header]
    for i, outfit in enumerate(outfits):
        name = np.full((TILE_HEIGHT, ROW_LABEL, 3), 40, np.uint8)
        name = caption(name, "\n+ ".join(outfit), (8, 8), 15)
        strips.append(np.concatenate([name, *(tiles[i] for _, tiles in columns)], axis=1))
    path = save_small(np.concatenate(strips, axis=0), out / "tryon_real.png", args.max_bytes)
    print(f"{path.name}: {path.stat().st_size / 1e3:.0f} kB, {len(outfits)} rows x {len(columns)}")
    return [path.name]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    ap.add_argument("--model", help="preset name or checkpoint: render real frames instead")
    ap.add_argument(
        "--frames",
        nargs="+",
        help="with --model: clip.mp4:FRAME[,FRAME] ... (default: gym_run.mp4:45 and, when "
        "present, ../shared/media/videos/romp_sample_video2.mp4:60, mmpose_demo_street.mp4:4)",
    )
    ap.add_argument(
        "--garments",
        help="with --model: one row per garment, comma-separated (a+b: one row wearing both); "
        "default: every shipped garment",
    )
    ap.add_argument("--layers", default=REAL_LAYERS, help="with --model: the pipeline's layers")
    ap.add_argument("--threads", type=int, default=1, help="with --model: network CPU threads")
    ap.add_argument("--max-bytes", type=int, default=600_000, help="size limit of the grid")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    lib = GarmentLibrary()
    if args.model:
        written = real_frames(args, lib, args.out)
    else:
        topo = Topology.load("high")
        fixtures = np.load(ROOT / "tests" / "fixtures" / "posed_bodies.npz")["high"]
        with create_rasterizer() as rast:
            layer = TryOnLayer(TryOnConfig(), rasterizer=rast, atlas=lib.atlas)
            written = garment_rows(rast, layer, topo, lib, fixtures, args.out)
            written.append(outfits_frame(rast, layer, topo, lib, fixtures, args.out))
            written.append(occlusion_cases(rast, layer, topo, lib, fixtures, args.out))
        written.append(template_preview(lib, args.out))
    print("wrote " + ", ".join(written) + f" to {args.out}")


if __name__ == "__main__":
    main()
