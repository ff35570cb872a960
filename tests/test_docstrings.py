"""Public functions that take or return arrays state a shape in their docstring.

Every module of ``meshpose_core`` is read with ``ast`` (nothing is imported). A public function
or method (name without a leading ``_``, in a public class) whose annotations mention
``np.ndarray`` / ``NDArray`` / ``Tensor`` must state at least one shape in the project's form,
as ``model/decoding.py`` does: ``xy (B, V, 2) crop pixels, faces (F, 3) -> (B, V) in [-1, 1]``.
A shape is a parenthesised tuple of sizes, ``(B, V, 2)``, ``(H, W, 3)``, ``(h*w, 2)``,
``(V,)``, ``(...)``, a scalar's "shape ()"; "any shape" says that a function takes every
shape. An ``nn.Module``'s ``forward`` may leave the shapes to its class docstring.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "meshpose_core"
ARRAY = re.compile(r"\b(ndarray|NDArray|Tensor)\b")
SIZE = r"(?:\.\.\.|[A-Za-z0-9_']+(?:\s*[-+*/^]\s*[A-Za-z0-9_']+)*)"
# One element names a size that is a symbol in upper case, a number, an expression or "...":
# "(x, y)" and "(u, v)" are coordinate orders, not shapes.
STRONG = re.compile(r"^(?:\.\.\.|[A-Z].*|\d+|.*[-+*/^].*)$")
TUPLE = re.compile(rf"\(\s*({SIZE}(?:\s*,\s*{SIZE})*)\s*(,?)\s*\)")
ANY_SHAPE = re.compile(r"\bany shape\b|\bshape \(\)", re.IGNORECASE)

# Offenders not fixed yet, as "path:qualified name"; empty when every function states a shape.
ALLOWED: frozenset[str] = frozenset()


def states_shape(doc: str | None) -> bool:
    """Whether a docstring states at least one shape (see the module docstring)."""
    if not doc:
        return False
    if ANY_SHAPE.search(doc):
        return True
    for match in TUPLE.finditer(doc):
        sizes = [s.strip() for s in match.group(1).split(",")]
        if sizes == ["..."]:
            return True
        if len(sizes) == 1 and match.group(2):
            return True
        if len(sizes) >= 2 and any(STRONG.match(s) for s in sizes):
            return True
    return False


def mentions_array(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether an argument or the return annotation mentions an array type."""
    args = func.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    annotations = [a.annotation for a in every if a is not None and a.annotation is not None]
    if func.returns is not None:
        annotations.append(func.returns)
    return any(ARRAY.search(ast.unparse(a)) for a in annotations)


def public_functions(
    tree: ast.Module,
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, ast.ClassDef | None]]:
    """(qualified name, function, its class or None) of module functions and class methods."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if not node.name.startswith("_"):
                yield node.name, node, None
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                is_function = isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                if is_function and not item.name.startswith("_"):
                    yield f"{node.name}.{item.name}", item, node


def offenders() -> list[str]:
    """``path:qualified name`` of every public array function without a shape."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, func, cls in public_functions(tree):
            if not mentions_array(func):
                continue
            if states_shape(ast.get_docstring(func)):
                continue
            in_class = cls is not None and func.name == "forward"
            if in_class and states_shape(ast.get_docstring(cls)):
                continue
            out.append(f"{path.relative_to(REPO).as_posix()}:{name}")
    return out


def test_shape_pattern() -> None:
    for doc in (
        "xy (B, V, 2) crop pixels",
        "(V,) ids",
        "(...)",
        "(h*w, 2)",
        "(B, V, C')",
        "(B, C, H / 2^i)",
    ):
        assert states_shape(doc), doc
    assert states_shape("Coordinates, any shape.") and states_shape("Scalar, shape ().")
    for doc in (None, "", "as (x, y) pixels", "(u, v) in [0, 1]", "(see below)", "(V)"):
        assert not states_shape(doc), doc


def test_array_functions_state_shapes() -> None:
    found = offenders()
    new = [name for name in found if name not in ALLOWED]
    assert not new, (
        f"{len(new)} public functions take or return arrays without a shape in their "
        "docstring, e.g. 'xy (B, V, 2) crop pixels -> (B, V)':\n" + "\n".join(new)
    )
    fixed = sorted(ALLOWED - set(found))
    assert not fixed, "remove from ALLOWED, they state shapes now:\n" + "\n".join(fixed)
