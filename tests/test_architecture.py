"""The import graph of the packages against the layering documented in docs/architecture.md.

Every ``import`` of ``meshpose_core`` and ``meshpose_app`` (also those inside functions and
under ``TYPE_CHECKING``: a lazy import is still a dependency) is read from the source with
``ast``, nothing is imported. Each module belongs to a unit: a subpackage of ``meshpose_core``
(``meshpose_core.pipeline``), a top-level module (``meshpose_core.pck``), the package root, or
``meshpose_app.options`` / ``.gui`` / ``.cli``. The layering is the table of the
architecture doc, read from the doc itself, so the doc and this test cannot disagree: a unit
may import only units of lower layers. The doc's known exceptions must be exactly the
imports that break it, so that fixing one makes this test ask for the doc to be updated.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
PACKAGES = ("meshpose_core", "meshpose_app")
ROW = re.compile(r"^\|\s*(\d+)\s*\|[^|]*\|(.*)\|\s*$")
NAME = re.compile(r"`([a-z_.]+)`")
EXCEPTION = re.compile(r"^\|\s*`([a-z_.]+)`\s*→\s*`([a-z_.]+)`\s*\|")
SECTION = "## Package map and layering"


def module_files() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's ``__init__``)."""
    out = {}
    for top in PACKAGES:
        for path in sorted((REPO / top).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            is_init = parts[-1] == "__init__"
            out[".".join(parts[:-1] if is_init else parts)] = (path, is_init)
    return out


def unit(module: str) -> str:
    """The layering unit of a module (see the module docstring)."""
    parts = module.split(".")
    return ".".join(parts[:2])


def imported_modules(
    module: str, path: Path, is_init: bool, known: dict[str, tuple[Path, bool]]
) -> Iterator[str]:
    """Every module of ours that ``module`` imports (a name imported from a package counts
    as its submodule when it is one)."""
    package = module if is_init else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            names = [
                f"{source}.{a.name}" if f"{source}.{a.name}" in known else source
                for a in node.names
            ]
        else:
            continue
        yield from (n for n in names if n.split(".")[0] in PACKAGES)


def unit_graph() -> dict[str, dict[str, set[str]]]:
    """unit -> {imported unit -> the modules of ``unit`` that import it}."""
    known = module_files()
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for module, (path, is_init) in known.items():
        graph[unit(module)]  # every unit, also one that imports nothing of ours
        for target in imported_modules(module, path, is_init, known):
            if unit(target) != unit(module):
                graph[unit(module)][unit(target)].add(module)
    return graph


def layering_section() -> list[str]:
    """The lines of the doc's layering section (up to the next ``## `` heading)."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    assert SECTION in lines, f"{DOC.name} has no '{SECTION}' section"
    start = lines.index(SECTION) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def documented_layers() -> dict[str, int]:
    """unit -> layer, from the doc's layering table."""
    layers = {}
    for line in layering_section():
        row = ROW.match(line)
        if row:
            for name in NAME.findall(row.group(2)):
                assert name not in layers, f"{name} is in two layers of {DOC.name}"
                layers[name] = int(row.group(1))
    return layers


def documented_exceptions() -> set[tuple[str, str]]:
    return {(m.group(1), m.group(2)) for m in map(EXCEPTION.match, layering_section()) if m}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, set[str]]]:
    return unit_graph()


def test_every_unit_has_a_documented_layer(graph) -> None:
    layers = documented_layers()
    assert len(set(layers.values())) >= 10, f"no layering table found in {DOC}"
    missing = sorted(set(graph) - set(layers))
    assert not missing, f"place these in the layering table of {DOC.name}: {missing}"
    gone = sorted(set(layers) - set(graph))
    assert not gone, f"{DOC.name} lists units that no longer exist: {gone}"


def test_no_upward_or_sideways_imports(graph) -> None:
    layers = documented_layers()
    broken = {
        (source, target): sorted(modules)
        for source, targets in graph.items()
        for target, modules in targets.items()
        if layers[target] >= layers[source]
    }
    exceptions = documented_exceptions()
    unexpected = {k: v for k, v in broken.items() if k not in exceptions}
    assert not unexpected, (
        "imports against the layering of docs/architecture.md "
        "((importer, imported): importing modules): "
        + "; ".join(f"{k}: {', '.join(v)}" for k, v in unexpected.items())
    )
    fixed = sorted(exceptions - set(broken))
    assert not fixed, f"no longer needed, remove from the known exceptions: {fixed}"


def test_no_import_cycles_between_packages(graph) -> None:
    """Without the documented exceptions the unit graph has no cycle (with the layering
    checked above, this also says which exception closes each cycle there is)."""
    edges = {source: set(targets) for source, targets in graph.items()}
    for source, target in documented_exceptions():
        edges.get(source, set()).discard(target)
    assert cycles(edges) == []


def test_the_checker_sees_cycles_and_lazy_imports(tmp_path) -> None:
    """The reading itself: a relative, a lazy and a from-package import are all found."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    known = module_files()
    path, is_init = known["meshpose_core.train.loop"]
    found = set(imported_modules("meshpose_core.train.loop", path, is_init, known))
    assert "meshpose_core.fitting.supervision" in found  # imported inside a function
    path, is_init = known["meshpose_app.gui.settings"]
    found = set(imported_modules("meshpose_app.gui.settings", path, is_init, known))
    assert "meshpose_app.options" in found and "meshpose_app.cli" not in found
