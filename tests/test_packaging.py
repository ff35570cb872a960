"""A real package: every imported third-party module is a declared dependency, the shipped data
is found as package data, and the wheel installs into a fresh virtual environment (not
editable) whose ``meshpose-demo`` processes the sample clip.

The fresh environment gets this environment's installed packages through a ``.pth`` line
(nothing is downloaded; torch stays the pinned one) and the wheel itself without
dependencies: so it proves the wheel's own content and entry points, away from the checkout.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from meshpose_core.detection.yolox import DEFAULT_YOLOX_PATH
from meshpose_core.resources import asset_path, weights_path

REPO = Path(__file__).resolve().parents[1]
OWN = ("meshpose_core", "meshpose_app")
# imported modules whose distribution another declared one brings (module -> declared dist)
BROUGHT_BY = {"OpenGL": "pyrender", "litert_torch": "litert-torch"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    return {_normalise(re.split(r"[<>=!~ ;\[]", s, maxsplit=1)[0]) for s in specs}


def imported_modules() -> dict[str, str]:
    """Top-level third-party module -> one file importing it (nested imports included)."""
    found: dict[str, str] = {}
    for package in OWN:
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in OWN:
                        found.setdefault(top, str(path.relative_to(REPO)))
    return found


def test_every_imported_package_is_declared() -> None:
    deps = declared()
    dists = md.packages_distributions()
    missing = []
    for module, where in imported_modules().items():
        names = {_normalise(d) for d in dists.get(module, [])}
        if module in BROUGHT_BY:
            names.add(_normalise(BROUGHT_BY[module]))
        if not names & deps:
            missing.append(f"{module} ({where})")
    assert not missing, f"imported but not in pyproject.toml: {missing}"


def test_shipped_data_is_found_as_package_data() -> None:
    assert (asset_path("topology") / "high.npz").is_file()
    assert (asset_path("samples") / "gym_run.mp4").is_file()
    assert DEFAULT_YOLOX_PATH.is_file() and DEFAULT_YOLOX_PATH.is_relative_to(asset_path())
    assert weights_path("meshpose_xs_bp.safetensors").is_file()
    # the checkout's links lead to the top-level folders
    assert asset_path().resolve() == (REPO / "assets").resolve()
    assert weights_path().resolve() == (REPO / "weights").resolve()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the checkout (no build/ or egg-info left in it)."""
    src = tmp_path_factory.mktemp("src") / "meshpose-live"
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "out", "runs", "*.egg-info", "__pycache__", ".*cache"
    )
    shutil.copytree(REPO, src, symlinks=True, ignore=ignore)
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*cmd, "-w", str(out), str(src)], check=True, capture_output=True)
    (path,) = out.glob("meshpose_live-*.whl")
    return path


def test_wheel_holds_code_data_and_dependencies(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    for needed in (
        "meshpose_app/cli.py",
        "meshpose_core/live.py",
        "meshpose_core/pipeline/export_schema.json",
        "meshpose_core/_data/assets/topology/high.npz",
        "meshpose_core/_data/assets/blazepose/pose_detection.tflite",
        "meshpose_core/_data/assets/yolox/yolox_nano.onnx",  # the default person detector
        "meshpose_core/_data/assets/samples/gym_run.mp4",
        "meshpose_core/_data/weights/meshpose_xs_bp.safetensors",
        "meshpose_core/_data/weights/upsampler.safetensors",
    ):
        assert needed in names, needed
    assert not any(n.startswith(("tests/", "app/")) for n in names)
    requires = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)", meta, re.M)
    assert {"torch", "numba", "numpy"} <= {_normalise(r) for r in requires}
    assert "meshpose-demo = meshpose_app.cli:main" in entry


def test_wheel_in_a_fresh_venv_runs_the_sample(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # this environment's packages (torch ==2.13.0 & co.) as the fresh one's dependencies
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    subprocess.run([*pip, "--no-deps", "--no-index", str(wheel)], check=True)
    work = tmp_path / "work"  # away from the checkout: nothing of it on sys.path
    work.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "MESHPOSE_CACHE": str(tmp_path / "cache")}
    where = subprocess.run(
        [str(python), "-c", "import meshpose_core.resources as r; print(r.asset_path())"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert where.startswith(site), where
    run = subprocess.run(
        [str(venv / "bin" / "meshpose-demo"), "--threads", "1"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    data = json.loads((work / "out" / "gym_run.json").read_text())
    assert len(data["frames"]) == 120 and (work / "out" / "gym_run_annotated.mp4").stat().st_size


def test_every_shipped_file_has_its_row_in_attribution() -> None:
    """assets/ATTRIBUTION.md names each file of assets/ and weights/ (the package data)."""
    text = (REPO / "assets" / "ATTRIBUTION.md").read_text()
    shipped = [
        p.relative_to(REPO).as_posix()
        for folder in ("assets", "weights")
        for p in sorted((REPO / folder).rglob("*"))
        if p.is_file()
    ]
    missing = [p for p in shipped if f"`{p}`" not in text]
    assert not missing, f"add a row to assets/ATTRIBUTION.md for {missing}"
    card = json.loads((REPO / "weights" / "meshpose_xs_bp.json").read_text())
    assert "non-commercial" in card["licence"]
