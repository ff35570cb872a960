"""``python -m meshpose_core.bench model [--presets xs,s,l] [--batches 1,8] [--iuv]``."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m meshpose_core.bench", description=__doc__)
    sub = ap.add_subparsers(dest="what", required=True)
    m = sub.add_parser("model", help="network + decoding: params, MACs, CPU/GPU latency")
    m.add_argument("--presets", default="xs,s,l")
    m.add_argument("--batches", default="1,8")
    m.add_argument("--threads", type=int, default=2)
    m.add_argument("--iuv", action="store_true", help="include dense IUV decoding")
    args = ap.parse_args(argv)
    if args.what == "model":
        from .model_bench import run

        run(
            args.presets.split(","),
            tuple(int(b) for b in args.batches.split(",")),
            args.iuv,
            args.threads,
        )


if __name__ == "__main__":
    main()
