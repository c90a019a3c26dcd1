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


# The layers, lowest first (the contract docs/architecture.md describes).  A module may import
# its own group and any lower layer; the groups of one layer are independent of each other.
# Public faces (``funnelkit.policies`` ...) sit in the layer of the package they show.
LAYERS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("funnelkit._core",),),
    (("funnelkit._policy", "funnelkit.policies", "funnelkit.scoring"),),
    (("funnelkit._definition", "funnelkit.funnel", "funnelkit.templates"),),
    (("funnelkit.stores",), ("funnelkit.dedupe",)),
    (("funnelkit._pipeline", "funnelkit.pipeline", "funnelkit.hooks", "funnelkit.handoff",
      "funnelkit.routing"),
     ("funnelkit.analytics",)),
    (("funnelkit.testing", "funnelkit._pytest_plugin"), ("funnelkit.contrib",)),
    (("funnelkit.cli", "funnelkit.__main__"),),
)


def _place(module: str) -> tuple[int, int] | None:
    """The (layer, group) *module* belongs to, by its longest matching prefix; None if none."""
    best: tuple[int, int, int] | None = None
    for level, groups in enumerate(LAYERS):
        for group, prefixes in enumerate(groups):
            for prefix in prefixes:
                if (module == prefix or module.startswith(prefix + ".")) and (
                        best is None or len(prefix) > best[2]):
                    best = (level, group, len(prefix))
    return None if best is None else best[:2]


def _violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that goes up a layer or across to a sibling group of the same layer."""
    found = []
    for name, deps in sorted(graph.items()):
        here = _place(name)
        for dep in sorted(deps):
            there = _place(dep)
            if here is None or there is None:
                continue
            if there[0] > here[0]:
                found.append(f"{name} (layer {here[0]}) imports {dep} (layer {there[0]}), above it")
            elif there[0] == here[0] and there[1] != here[1]:
                found.append(f"{name} imports {dep}: the two are independent groups of one layer")
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    return {name: _imports(path, set(files)) for name, path in files.items()}


def test_no_module_imports_itself_back() -> None:
    """A topological order of the modules exists: the layers import downwards only."""
    graph = _graph()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as e:
        raise AssertionError(f"modules import each other in a circle: {e.args[1]}") from None
    assert set(order) == set(graph)


def test_every_module_has_a_layer() -> None:
    """A new module is placed in the contract, so the check covers it."""
    unplaced = sorted(n for n in _graph() if n != "funnelkit" and _place(n) is None)
    assert not unplaced, f"modules outside every layer of LAYERS: {unplaced}"


def test_imports_follow_the_layers() -> None:
    """No module imports a layer above its own or an independent group beside it."""
    assert _violations(_graph()) == []


def test_the_layer_check_sees_a_violation() -> None:
    """The contract check is not vacuous: going up a layer and across a layer are both found."""
    graph = {"funnelkit._core.lead": {"funnelkit._pipeline.hooks"},
             "funnelkit.analytics._log": {"funnelkit._pipeline.pipeline"},
             "funnelkit.cli._app": {"funnelkit._core.errors"}}
    found = _violations(graph)
    assert len(found) == 2
    assert "above it" in found[0]
    assert "independent" in found[1]


def test_the_check_sees_a_circle() -> None:
    """The graph check is not vacuous: a circle of two is reported."""
    graph = {"a": {"b"}, "b": {"a"}}
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError:
        return
    raise AssertionError("a circle went unnoticed")
