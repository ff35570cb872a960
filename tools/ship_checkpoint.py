"""Copy a training run's checkpoint into weights/ with a complete model card.

    python tools/ship_checkpoint.py --run runs/xs_bp_cpu --name xs_bp \
        --compute "2-core CPU, 1.5 h" [--pck-json pck.json]

The card records the data, steps, compute, the last held-out synthetic evaluation
(``eval.jsonl``) and, if given, the real held-out PCK (``tools/eval_pck.py --json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.model.checkpoint import (  # noqa: E402
    WEIGHTS_DIR,
    load_checkpoint,
    save_checkpoint,
)

# weights trained on data/real's labels inherit the research-only terms of part of its media
RESEARCH_ONLY = (
    "weights: research and non-commercial evaluation only (trained partly on research-only "
    "data: LSP Extended, research video clips and photos, see data/real/README.md); derivative "
    "of MediaPipe BlazePose-full (Apache-2.0, keep its notice); code: Apache-2.0; see "
    "assets/ATTRIBUTION.md"
)


def training_data(config: Path) -> str:
    """What trained the weights, from the run's config (config.json)."""
    data = json.loads(config.read_text()).get("data", {}) if config.is_file() else {}
    text = (
        "synthetic anny bodies (CC0) posed with CMU/MakeHuman mocap, procedural appearance, "
        "rendered by meshpose_core.data.synthetic"
    )
    real = data.get("real_fraction", 0)
    if real:
        sources = ", ".join(
            data.get("real_sources") or ["videos", "images", "upper_body", "lsp_train"]
        )
        text += (
            f"; {round(100 * real)} % real crops of data/real ({sources}): LSP-extended "
            "training split (human joints) and BlazePose-heavy teacher joints/masks of "
            "../shared media and train clips (see data/real/README.md)"
        )
        if data.get("real_fits"):
            text += (
                "; real people with a kept body fit (data/real/fits, tools/fit_real_frames.py) "
                "supervised with the fit's mesh, visibility and dense labels"
            )
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--name", required=True, help="preset name: weights/meshpose_<name>")
    ap.add_argument("--compute", required=True)
    ap.add_argument("--pck-json", type=Path)
    ap.add_argument("--note", default="")
    ap.add_argument(
        "--surface-json", type=Path, help="python -m meshpose_core.bench surface --json"
    )
    ap.add_argument(
        "--licence",
        default=RESEARCH_ONLY,
        help="the weights' terms for the card (keep assets/ATTRIBUTION.md in step)",
    )
    args = ap.parse_args()
    net, card = load_checkpoint(args.run / "last.safetensors")
    evals = [json.loads(x) for x in (args.run / "eval.jsonl").read_text().splitlines() if x]
    config = args.run / "config.json"
    out = {
        "model": f"MeshPose {args.name} ({net.cfg.backbone}, {net.cfg.input_size[0]}x"
        f"{net.cfg.input_size[1]})",
        "steps": card.get("step"),
        "compute": args.compute,
        "training_data": training_data(config),
        "initialisation": "backbone and its landmark heatmaps from MediaPipe BlazePose-full "
        "(Apache-2.0), converted by tools/convert_blazepose.py; VertexPose and regression "
        + (
            "priors from weights/blazepose_anchor_prior.npz (tools/fit_vertex_prior.py "
            "--from-fits: fitted on real training people's body fits)"
            if net.cfg.vertex_head.prior_kind == "anchor"
            else "priors from weights/blazepose_vertex_prior.npz (tools/fit_vertex_prior.py)"
        )
        if net.cfg.backbone == "blazepose_full"
        else "scratch",
        "held_out_synthetic": evals[-1] if evals else None,
        "held_out_real_pck": json.loads(args.pck_json.read_text()) if args.pck_json else None,
        "held_out_real_surface": (
            json.loads(args.surface_json.read_text()) if args.surface_json else None
        ),
        "note": args.note,
        "licence": args.licence,
    }
    if config.is_file():
        out["train_config"] = json.loads(config.read_text())
    path = WEIGHTS_DIR / f"meshpose_{args.name}.safetensors"
    save_checkpoint(net, path, out)
    print(f"wrote {path} and {path.with_suffix('.json')}")


if __name__ == "__main__":
    main()
