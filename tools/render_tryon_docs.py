"""Render the pictures of docs/tryon.md.

    python tools/render_tryon_docs.py [--out docs/images]
    python tools/render_tryon_docs.py --model weights/meshpose_xs.safetensors \\
        --frames assets/samples/gym_run.mp4:40 other_clip.mp4:120 photo.jpg \\
        [--garments flared_skirt,striped_tshirt,crossbody_bag]

Without ``--model``: every shipped garment on the posed fixture bodies (front and back)
over a neutral backdrop with the body drawn in a skin tone, several people with different
outfits in one frame, and the occlusion / visibility cases. With ``--model`` and
``--frames``: people are detected (BlazePose), the network predicts their meshes and every
listed garment is drawn over each real frame (``tryon_real_<frame>.png``).
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


VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")


def read_frame(spec: str) -> tuple[np.ndarray, str]:
    """``image.jpg`` or ``clip.mp4:INDEX`` -> (RGB frame, a name for the output file)."""
    path, _, index = spec.partition(":") if ":" in Path(spec).name else (spec, "", "")
    if Path(path).suffix.lower() not in VIDEO_SUFFIXES:
        return np.asarray(Image.open(path).convert("RGB")), Path(path).stem
    cap = cv2.VideoCapture(path)
    cap.set(cv2.CAP_PROP_POS_FRAMES, int(index or 0))
    ok, bgr = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"cannot read frame {index or 0} of {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), f"{Path(path).stem}_{int(index or 0)}"


def real_frames(args: argparse.Namespace, lib: GarmentLibrary, out: Path) -> list[str]:
    """Detect, predict and dress every person of each given frame."""
    from meshpose_core.detection import BlazePoseDetector
    from meshpose_core.predictor import MeshPose

    model = MeshPose.from_pretrained(args.model, device="cpu")
    detector = BlazePoseDetector()
    garments = [lib.load(n) for n in args.garments.split(",")]
    size = model.input_size
    written = []
    with TryOnLayer() as layer:
        for spec in args.frames:
            rgb, stem = read_frame(spec)
            people = []
            for det in detector.detect(rgb):
                x0, y0, x1, y1 = det.box
                side = max(x1 - x0, y1 - y0) * 1.25
                k = max(size) / side
                cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
                m = np.array([[k, 0, size[1] / 2 - k * cx], [0, k, size[0] / 2 - k * cy]])
                crop = cv2.warpAffine(rgb, m, (size[1], size[0]), flags=cv2.INTER_LINEAR)
                pred = model.predict(crop[None])
                v = pred.vertices_high[0].astype(np.float64)
                img_v = np.stack([(v[:, 0] - m[0, 2]) / k, (v[:, 1] - m[1, 2]) / k, v[:, 2] / k], 1)
                people.append(TryOnPerson(img_v.astype(np.float32), tuple(garments),
                                          visibility=pred.visibility[0]))  # fmt: skip
            path = out / f"tryon_real_{stem}.png"
            Image.fromarray(layer.render(rgb, people)).save(path)
            written.append(path.name)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    ap.add_argument("--model", help="MeshPose checkpoint: render real frames instead")
    ap.add_argument(
        "--frames", nargs="*", default=[], help="images or clip.mp4:FRAME (with --model)"
    )
    ap.add_argument("--garments", default="flared_skirt,striped_tshirt,crossbody_bag")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    lib = GarmentLibrary()
    if args.model:
        if not args.frames:
            ap.error("--model needs --frames")
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
