"""The package's modules import each other one way: no circles, lazy imports included."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import funnelkit

ROOT = Path(funnelkit.__file__).resolve().parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every funnelkit module *path* imports, at the top or inside functions (type-only aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {id(n) for node in ast.walk(tree)
                 if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                 for n in ast.walk(node)}
    name = _module_name(path)
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            stem = base[:len(base) - node.level + 1] if node.level else []
            module = ".".join([*stem, node.module] if node.module else stem)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    # A package's __init__ re-exports its submodules: that face is not a dependency of theirs.
    return {m for m in found & known
            if m != name and not (m != "funnelkit" and name.startswith(m + ".")
                                  and (ROOT.parent / m.replace(".", "/") / "__init__.py").exists())
            and not (m == "funnelkit" and name.startswith("funnelkit."))}


def test_no_module_imports_itself_back() -> None:
    """A topological order of the modules exists: the layers import downwards only."""
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph = {name: _imports(path, set(files)) for name, path in files.items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as e:
        raise AssertionError(f"modules import each other in a circle: {e.args[1]}") from None
    assert set(order) == set(files)


def test_the_check_sees_a_circle() -> None:
    """The graph check is not vacuous: a circle of two is reported."""
    graph = {"a": {"b"}, "b": {"a"}}
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError:
        return
    raise AssertionError("a circle went unnoticed")
