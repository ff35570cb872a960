"""``python -m meshpose_core.bench model [--presets xs,s,l] [--batches 1,8] [--iuv]``
``python -m meshpose_core.bench backends [--model xs_bp] [--threads 2]``
``python -m meshpose_core.bench pipeline [--video CLIP] [--model PATH] [--crowd IMAGE]``
``python -m meshpose_core.bench tryon [--people 1,3] [--outfits striped_tshirt ...]``
``python -m meshpose_core.bench surface [--model PATH] [--limit 200]``
``python -m meshpose_core.bench camera [--people 300] [--network 100]``
``python -m meshpose_core.bench layers [--sizes 640x480,1280x720] [--frames 60] [--encode]``
``python -m meshpose_core.bench layers --render [--painters auto,gl,cpu]``
``python -m meshpose_core.bench paced [--sizes 640x480] [--fps 30,60] [--frames 150]``
``python -m meshpose_core.bench detection [--shared ../shared] [--detectors yolox,blazepose]``
``python -m meshpose_core.bench crowd [--images ...] [--videos ...] [--frames 60]``
``python -m meshpose_core.bench smoothing [--clips ...] [--strengths 0,0.5,1,2]``."""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    from meshpose_core.pipeline.layers import MESH_PAINTERS

    ap = argparse.ArgumentParser(prog="python -m meshpose_core.bench", description=__doc__)
    sub = ap.add_subparsers(dest="what", required=True)
    m = sub.add_parser("model", help="network + decoding: params, MACs, CPU/GPU latency")
    m.add_argument("--presets", default="xs,s,l")
    m.add_argument("--batches", default="1,8")
    m.add_argument("--threads", type=int, default=2)
    m.add_argument("--iuv", action="store_true", help="include dense IUV decoding")
    b = sub.add_parser(
        "backends", help="trained weights on every CPU backend vs BlazePose's landmark model"
    )
    b.add_argument("--model", default="xs_bp")
    b.add_argument("--threads", type=int, default=2)
    p = sub.add_parser(
        "pipeline", help="end-to-end FPS and per-stage ms, against BlazePose-full in the same run"
    )
    p.add_argument("--video", type=Path, help="one-person clip (default: the bundled sample)")
    p.add_argument("--model", help="MeshPose checkpoint (default: xs, random-init if none yet)")
    p.add_argument("--crowd", type=Path, help="a photo of several people, run as a clip too")
    p.add_argument("--frames", type=int, default=100, help="measured frames per run")
    p.add_argument("--layers", default="mesh,keypoints,boxes,hud")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-people", type=int, default=5)
    p.add_argument(
        "--detect-every", type=int, help="default: the tracker's (3 with random-init weights)"
    )
    p.add_argument(
        "--always-detect",
        action="store_true",
        help="run every scheduled detection (default: skipped while nothing moves, as the CLI)",
    )
    p.add_argument(
        "--mode",
        choices=("both", "sequential", "overlap"),
        default="both",
        help="sequential frames, overlapped decoding/inference/encoding (threads), or both",
    )
    p.add_argument(
        "--repeat", type=int, default=3, help="runs per pipeline, interleaved; median reported"
    )
    p.add_argument(
        "--mesh-painter",
        choices=MESH_PAINTERS,
        default="auto",
        help="who draws the mesh layer (auto: GL on a GPU, compiled CPU loops on llvmpipe)",
    )
    p.add_argument("--detector", choices=("yolox", "blazepose"), default="yolox")
    p.add_argument("--yolox-size", type=int, default=416, help="YOLOX input size (x32)")
    t = sub.add_parser("tryon", help="garment layer cost per person and frame")
    t.add_argument("--people", default="1,3")
    t.add_argument(
        "--outfits",
        nargs="+",
        default=["striped_tshirt", "striped_tshirt+flared_skirt+crossbody_bag"],
        help="outfits to time, each garments joined by +",
    )
    t.add_argument("--threads", type=int, default=2)
    s = sub.add_parser(
        "surface",
        help="silhouette IoU, PCK, visibility and IUV accuracy, mesh integrity on held-out "
        "real people (needs ../shared), next to BlazePose-heavy",
    )
    s.add_argument("--model", default="xs_bp", help="MeshPose checkpoint or shipped name")
    s.add_argument("--shared-root", type=Path)
    s.add_argument("--limit", type=int, default=200, help="held-out fitted people scored")
    s.add_argument("--sets", default="lsp_eval,tiny_coco_val,tiny_coco_train,coco")
    s.add_argument("--json", type=Path, help="also write the figures here")
    s.add_argument(
        "--blazepose-sets",
        default="tiny_coco_val,tiny_coco_train,coco",
        help="sets BlazePose-heavy also runs on (LSP: its stored 65.5 %%)",
    )
    c = sub.add_parser("camera", help="camera-space mesh error on synthetic frames")
    c.add_argument("--people", type=int, default=300, help="synthetic people per case")
    c.add_argument(
        "--network", type=int, default=0, metavar="N", help="also the shipped network on N frames"
    )
    lay = sub.add_parser(
        "layers", help="FPS of each layer alone and of the try-on set, 1 and 3 people, vs BlazePose"
    )
    lay.add_argument("--sizes", default="640x480,1280x720")
    lay.add_argument("--frames", type=int, default=60, help="measured frames per run")
    lay.add_argument("--model", help="MeshPose checkpoint (default: xs, random-init if none yet)")
    lay.add_argument("--threads", type=int, default=2)
    lay.add_argument("--encode", action="store_true", help="include H.264 encoding (as --out)")
    lay.add_argument("--layers", help="layer sets separated by ';' (default: each + the set)")
    lay.add_argument(
        "--render", action="store_true", help="time the render stage alone, per painter"
    )
    lay.add_argument("--painters", default="auto", help="with --render: auto,gl,cpu")
    pc = sub.add_parser(
        "paced", help="capture-to-ready latency and dropped frames at a camera's frame rate"
    )
    pc.add_argument("--sizes", default="640x480")
    pc.add_argument("--fps", default="30,60")
    pc.add_argument("--frames", type=int, default=150, help="camera frames per run")
    pc.add_argument("--layers", default="mesh,keypoints,boxes,hud")
    pc.add_argument("--scenes", default="1 person", help="'1 person', '3 people' (comma list)")
    pc.add_argument("--model", help="MeshPose checkpoint (default: xs, random-init if none yet)")
    pc.add_argument("--threads", type=int, default=2)
    d = sub.add_parser(
        "detection",
        help="person detectors and the full pipeline on annotated photos: recall, precision, "
        "ms/frame, meshes on their own person",
    )
    d.add_argument("--shared", type=Path, help="the shared media root (default: ../shared)")
    d.add_argument("--sets", default="tiny_coco_val,tiny_coco_train,coco,aic,posetrack18,humanart")
    d.add_argument("--detectors", default="yolox,blazepose")
    d.add_argument("--yolox-sizes", default="416,320", help="YOLOX input sizes to compare")
    d.add_argument(
        "--yolox-scores",
        help="YOLOX score thresholds to compare (default: YoloxConfig's; below the tracker's "
        "confident_score a detection is drawn only once its mesh vets it)",
    )
    d.add_argument("--model", help="MeshPose weights for the pipeline figures (default: xs_bp)")
    d.add_argument("--threads", type=int, default=2)
    d.add_argument("--max-people", type=int, default=20)
    d.add_argument("--no-pipeline", action="store_true", help="detectors only")
    d.add_argument(
        "--still-frames",
        type=int,
        default=1,
        help="run each photo this many times as a still video, score the last frame",
    )
    cr = sub.add_parser(
        "crowd", help="broken or shared meshes and track ids on crowded photos and clips"
    )
    cr.add_argument("--shared", type=Path, help="the shared media root (default: ../shared)")
    cr.add_argument("--images", nargs="*", help="photos relative to the shared root")
    cr.add_argument("--videos", nargs="*", help="clips relative to the shared root")
    cr.add_argument("--frames", type=int, default=60, help="frames per clip")
    cr.add_argument("--model", help="MeshPose weights (default: xs_bp)")
    cr.add_argument("--threads", type=int, default=2)
    cr.add_argument("--max-people", type=int, default=10)
    sm = sub.add_parser("smoothing", help="jitter and lag of the mesh smoothing strengths")
    sm.add_argument("--shared", type=Path, help="the shared media root (default: ../shared)")
    sm.add_argument("--clips", nargs="*", help="clips relative to the shared root")
    sm.add_argument("--strengths", default="0,0.5,1,2", help="the first is the reference")
    sm.add_argument("--frames", type=int, default=90)
    sm.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    if args.what == "surface":
        from meshpose_core.data.real.paths import DEFAULT_SHARED_ROOT, require_shared_root

        from .surface_bench import run as run_surface

        root = require_shared_root(args.shared_root or DEFAULT_SHARED_ROOT)
        sets = tuple(x for x in args.sets.split(",") if x)
        bp_sets = tuple(x for x in args.blazepose_sets.split(",") if x)
        run_surface(args.model, root, args.limit, sets, args.json, bp_sets)
        return
    if args.what == "model":
        from .model_bench import run

        run(
            args.presets.split(","),
            tuple(int(b) for b in args.batches.split(",")),
            args.iuv,
            args.threads,
        )
    elif args.what == "backends":
        from .model_bench import run_backends

        run_backends(args.model, args.threads)
    elif args.what == "pipeline":
        from .pipeline_bench import run as run_pipeline

        run_pipeline(
            args.video,
            args.model,
            args.crowd,
            args.frames,
            args.layers,
            args.threads,
            args.max_people,
            args.detect_every,
            ("sequential", "overlap") if args.mode == "both" else (args.mode,),
            max(args.repeat, 1),
            args.mesh_painter,
            args.always_detect,
            args.detector,
            args.yolox_size,
        )
    elif args.what == "detection":
        from .detection_bench import run as run_detection

        run_detection(
            args.shared,
            args.sets.split(","),
            args.detectors.split(","),
            [int(s) for s in args.yolox_sizes.split(",")],
            args.model,
            args.threads,
            args.max_people,
            not args.no_pipeline,
            args.still_frames,
            None if args.yolox_scores is None else [float(t) for t in args.yolox_scores.split(",")],
        )
    elif args.what == "crowd":
        from .crowd_bench import CROWD_IMAGES, CROWD_VIDEOS
        from .crowd_bench import run as run_crowd

        run_crowd(
            args.shared,
            CROWD_IMAGES if args.images is None else args.images,
            CROWD_VIDEOS if args.videos is None else args.videos,
            args.frames,
            args.model,
            args.threads,
            args.max_people,
        )
    elif args.what == "smoothing":
        from .smoothing_bench import CLIPS
        from .smoothing_bench import run as run_smoothing

        run_smoothing(
            args.shared,
            CLIPS if args.clips is None else args.clips,
            [float(v) for v in args.strengths.split(",")],
            args.frames,
            args.threads,
        )
    elif args.what == "camera":
        from .camera_bench import main as run_camera

        run_camera(args.people, network=args.network)
    elif args.what == "layers":
        from .layers_bench import LAYER_SETS, parse_sizes, run_layers, run_render

        sets = tuple(args.layers.split(";")) if args.layers else LAYER_SETS
        sizes = parse_sizes(args.sizes)
        if args.render:
            run_render(sizes, args.model, args.threads, sets, tuple(args.painters.split(",")))
        else:
            run_layers(sizes, args.frames, args.model, args.threads, args.encode, sets)
    elif args.what == "paced":
        from .layers_bench import parse_sizes, run_paced

        rates = tuple(float(r) for r in args.fps.split(","))
        scenes = tuple(s.strip() for s in args.scenes.split(","))
        run_paced(
            parse_sizes(args.sizes), rates, args.frames, args.layers, args.model, args.threads,
            scenes,
        )  # fmt: skip
    elif args.what == "tryon":
        from meshpose_core.tryon import parse_outfit

        from .garment_bench import run as run_tryon

        run_tryon(
            [int(n) for n in args.people.split(",")],
            [parse_outfit(o) for o in args.outfits],
            args.threads,
        )


if __name__ == "__main__":
    main()
