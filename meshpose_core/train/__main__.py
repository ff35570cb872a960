"""``python -m meshpose_core.train --config configs/xs.yaml`` (also ``meshpose-train``).

Resumes automatically from ``<out_dir>/last_state.pt`` (checked against
``last.manifest.json``). Several GPUs:
``torchrun --nproc_per_node N -m meshpose_core.train --config ...``.
"""

from __future__ import annotations

import argparse
import sys

from meshpose_core.train.config import load_config


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="meshpose-train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--out-dir", dest="out_dir")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--batch-size", dest="batch_size", type=int)
    ap.add_argument("--max-steps", type=int, help="stop after this many steps in this run")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(
            args.config, out_dir=args.out_dir, steps=args.steps, batch_size=args.batch_size
        )
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from meshpose_core.model.checkpoint import CheckpointError
    from meshpose_core.train.loop import train

    try:
        train(cfg, max_steps=args.max_steps)
    except CheckpointError as exc:  # e.g. weights and optimizer state of different steps
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
