#!/usr/bin/env bash
# Issue 19's figures in one run, for a quiet machine (nothing else busy: the figures are
# wall-clock FPS and latency on 2 cores). Writes everything it prints to one log.
#
#   bash tools/measure_issue19.sh            # the full run (~8-10 min on 2 idle cores)
#   bash tools/measure_issue19.sh --quick    # every configuration, a few frames (~3 min:
#                                            # checks that it runs; figures not to quote)
#
# What it runs (docs/benchmarks.md, "Every layer at 720p"):
#   1. bench layers: 640x480 and 1280x720, 1 person and 3 people; each layer alone (mesh,
#      visibility, iuv, garment, skeleton) and mesh + visibility + garment + skeleton;
#      BlazePose-full on the same clip in the same run (sequential mode, frames ready for a
#      display).
#   2. bench layers --render: the render stage alone per layer set (the figure load disturbs
#      least).
#   3. bench paced: a camera at 30 and 60 FPS, sequential, overlap and auto (what --webcam and
#      the GUI run); 640x480 and 1280x720, 1 and 3 people; mesh + skeleton + boxes + HUD.
#   4. bench paced: the try-on set (mesh + visibility + garment + skeleton) at 1280x720,
#      1 person, 30 FPS.
# Environment: PYTHON (default .venv/bin/python), LOG (default out/measure_issue19_<UTC>.log),
# MODEL (a checkpoint for --model; default: the shipped weights).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
LOG=${LOG:-out/measure_issue19_$(date -u +%Y%m%dT%H%M%SZ).log}
QUICK=0
case "${1:-}" in
    --quick) QUICK=1 ;;
    "") ;;
    *) echo "usage: bash tools/measure_issue19.sh [--quick]" >&2; exit 2 ;;
esac
if [[ $QUICK == 1 ]]; then
    LAYER_FRAMES=3 PACED_FRAMES=40  # auto probes 25 frames before its choice runs
else
    LAYER_FRAMES=60 PACED_FRAMES=150
fi
MODEL_ARGS=()
if [[ -n "${MODEL:-}" ]]; then
    MODEL_ARGS=(--model "$MODEL")
fi
mkdir -p "$(dirname "$LOG")"

run() {  # a command, echoed and logged with the load before it and its wall time
    echo
    echo "\$ $(printf '%q ' "$@")"
    echo "# $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    local start=$SECONDS
    "$@"
    echo "# took $((SECONDS - start)) s"
}

{
    echo "# issue 19 measurements$([[ $QUICK == 1 ]] && echo ' (--quick: too few frames to quote)')"
    echo "# $(date -u '+%Y-%m-%d %H:%M:%S') UTC; commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (modified)')"
    echo "# $(uname -srm); $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "# $("$PYTHON" --version 2>&1); load average $(cut -d' ' -f1-3 /proc/loadavg)"
    "$PYTHON" - <<'EOF'
from meshpose_core.render import GLRasterizer, RendererUnavailable
try:
    r = GLRasterizer()
    print(f"# OpenGL: {r.renderer_info}" + (" (software: the CPU painters draw)" if r.software else ""))
    r.close()
except RendererUnavailable as exc:
    print(f"# OpenGL: none ({exc})")
EOF
    run "$PYTHON" -m meshpose_core.bench layers --sizes 640x480,1280x720 \
        --frames "$LAYER_FRAMES" "${MODEL_ARGS[@]}"
    run "$PYTHON" -m meshpose_core.bench layers --render --sizes 640x480,1280x720 \
        "${MODEL_ARGS[@]}"
    run "$PYTHON" -m meshpose_core.bench paced --sizes 640x480,1280x720 --fps 30,60 \
        --scenes "1 person,3 people" --frames "$PACED_FRAMES" "${MODEL_ARGS[@]}"
    run "$PYTHON" -m meshpose_core.bench paced --sizes 1280x720 --fps 30 --scenes "1 person" \
        --layers mesh,visibility,garment,keypoints --frames "$PACED_FRAMES" "${MODEL_ARGS[@]}"
    echo
    echo "# done $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$LOG"
echo "log: $LOG" >&2
