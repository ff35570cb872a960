"""Reliability under signals (issue 20), each in a real process: Ctrl-C pressed twice (or
SIGTERM then Ctrl-C) stops with one message and exit 130, the count it reports is the frames
written, and every output is complete under its name; a hard kill (SIGKILL) leaves the
``.partial`` video playable up to its last fragment and the ``.partial`` JSON parseable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from reliability_helpers import REPO, SAMPLE, strict_json

from meshpose_core.pipeline.output_paths import partial_path


def _start(tiny_model: Path, out: Path, js: Path) -> subprocess.Popen:
    cmd = [sys.executable, str(REPO / "run_demo.py"), "--video", str(SAMPLE), "--headless"]
    cmd += ["--model", str(tiny_model), "--backend", "torch", "--threads", "1", "--layers", "boxes"]
    cmd += ["--out", str(out), "--export-json", str(js)]
    return subprocess.Popen(
        cmd, cwd=out.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "MESHPOSE_CACHE": str(out.parent)},
    )  # fmt: skip


def _wait_for_frames(proc: subprocess.Popen, js: Path, frames: int) -> None:
    """Until the partial JSON holds ``frames`` frames (it parses after every frame)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if len(strict_json(partial_path(js).read_text())["frames"]) >= frames:
                return
        except (OSError, ValueError):  # not created yet
            pass
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"never reached {frames} frames: {proc.communicate()}")


def _decoded(video: Path) -> int:
    with av.open(str(video)) as c:
        return len(list(c.decode(video=0)))


@pytest.mark.parametrize("first", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_second_ctrl_c_changes_nothing(tiny_model, tmp_path, first) -> None:
    out, js = tmp_path / "o.mp4", tmp_path / "o.json"
    proc = _start(tiny_model, out, js)
    _wait_for_frames(proc, js, 3)
    proc.send_signal(first)
    for _ in range(40):  # an impatient user: Ctrl-C again and again during the clean-up
        time.sleep(0.01)
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.count("interrupted") == 1, stderr
    for noise in ("Traceback", "Exception ignored", "generator", "error:"):
        assert noise not in stderr, stderr
    frames = len(json.loads(js.read_text())["frames"])
    assert f"interrupted after {frames} frames" in stderr  # the count is the frames written
    assert _decoded(out) == frames
    assert f"wrote {out}" in stdout and f"wrote {js}" in stdout
    assert sorted(p.name for p in tmp_path.glob("o*")) == ["o.json", "o.mp4"]  # no .partial


def test_hard_kill_leaves_readable_partial_files(tiny_model, tmp_path) -> None:
    out, js = tmp_path / "o.mp4", tmp_path / "o.json"
    proc = _start(tiny_model, out, js)
    _wait_for_frames(proc, js, 50)  # past the first one-second fragment (30 fps clip)
    proc.kill()
    proc.communicate(timeout=60)
    assert not out.exists() and not js.exists()  # never half a file under the final name
    frames = len(strict_json(partial_path(js).read_text())["frames"])
    assert frames >= 50
    assert 30 <= _decoded(partial_path(out)) <= frames  # plays up to its last fragment
