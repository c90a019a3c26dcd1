"""The documentation's examples run: every docstring example and every ```python block in docs/."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import funnelkit

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
# `.. autoclass:: target` (reST, in {eval-rst} blocks) or ```{autoclass} target (MyST), `py:` or not.
_DIRECTIVE = re.compile(
    r"^\s*(?:\.\.\s+(?:py:)?(?P<rst>[a-z]+)::|(?:`{3,}|:{3,})\{(?:py:)?(?P<myst>[a-z]+)\})"
    r"[ \t]*(?P<target>[\w.]*)"
)
_OPTION = re.compile(r"^\s*:(?P<name>[a-z-]+):\s*(?P<value>.*)$")
# Directives that make an entry for one name; automodule makes entries for the module's members.
_ENTRY_DIRECTIVES = frozenset({
    "autoclass", "autoexception", "autofunction", "autodecorator", "autodata", "autoattribute",
    "class", "exception", "function", "decorator", "data", "attribute",
})


def _modules() -> list[str]:
    names = ["funnelkit"]
    names.extend(info.name for info in pkgutil.walk_packages(funnelkit.__path__, prefix="funnelkit."))
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name: str) -> None:
    """Every `>>>` example in the module's docstrings gives the output it shows."""
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        if test.filename and not str(test.filename).startswith(str(Path(funnelkit.__file__).parent)):
            continue  # objects re-exported from elsewhere are tested where they are defined
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


@pytest.mark.parametrize("page", DOCS, ids=[p.name for p in DOCS])
def test_doc_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```python block of the page runs, in order, in one namespace."""
    blocks = _BLOCK.findall(page.read_text(encoding="utf-8"))
    if not blocks:
        pytest.skip(f"{page.name} has no python examples")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(blocks, start=1):
        code = compile(block, f"{page.name} (python block {number})", "exec")
        exec(code, namespace)  # noqa: S102 - running our own documentation is the point


def test_every_public_name_is_documented() -> None:
    """Every name in funnelkit.__all__ has a docstring, and __all__ is sorted."""
    assert list(funnelkit.__all__) == sorted(funnelkit.__all__)
    missing = [n for n in funnelkit.__all__ if not (getattr(funnelkit, n).__doc__ or "").strip()]
    assert not missing, f"public names without a docstring: {missing}"


def _public_modules() -> list[str]:
    """funnelkit and every submodule whose dotted path has no private (underscore) part."""
    return [name for name in _modules()
            if not any(part.startswith("_") for part in name.split("."))]


def _resolve(dotted: str) -> tuple[bool, object]:
    """The object a documented ``funnelkit.x.Y`` names, or (False, None) when there is none."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                value = getattr(value, attribute)
        except AttributeError:
            return False, None
        return True, value
    return False, None


def _api_reference() -> dict[str, list[object]]:
    """What the API reference (the autodoc and ``py:`` directives of docs/*.md) documents.

    Keyed by the last part of each documented name, the objects it documents: an entry
    directive documents its target; ``automodule`` without ``:no-members:`` documents the
    module's ``__all__`` (or the names its ``:members:`` lists).  Targets without the
    ``funnelkit`` prefix are read against their ``:module:`` option or else the page's last
    ``module``, ``currentmodule`` or ``automodule``, as Sphinx reads them.  An object counts as
    documented under any public name (``funnelkit.Veto`` covers ``funnelkit.hooks.Veto``).
    """
    documented: dict[str, list[object]] = {}

    def add(dotted: str) -> None:
        found, value = _resolve(dotted)
        if found:
            documented.setdefault(dotted.rpartition(".")[2], []).append(value)

    for page in sorted((ROOT / "docs").glob("*.md")):
        lines = page.read_text(encoding="utf-8").splitlines()
        current = ""
        for number, line in enumerate(lines):
            match = _DIRECTIVE.match(line)
            if not match or not match["target"]:
                continue
            kind, target = match["rst"] or match["myst"], match["target"]
            options = {}
            for option in lines[number + 1:]:
                found = _OPTION.match(option)
                if not found:
                    break
                options[found["name"]] = found["value"].strip()
            module = options.get("module") or current
            if target.split(".")[0] != "funnelkit" and module:
                target = f"{module}.{target}"
            if kind in {"module", "currentmodule", "automodule"}:
                current = target
            if kind in _ENTRY_DIRECTIVES:
                add(target)
            elif kind == "automodule" and "no-members" not in options:
                listed = [m.strip() for m in options.get("members", "").split(",") if m.strip()]
                for name in listed or getattr(importlib.import_module(target), "__all__", ()):
                    add(f"{target}.{name}")
    return documented


@pytest.mark.parametrize("module_name", _public_modules())
def test_every_public_name_has_an_api_reference_entry(module_name: str) -> None:
    """Every name in a public module's __all__ has an entry in the API reference of docs/*.md."""
    module = importlib.import_module(module_name)
    documented = _api_reference()
    missing = []
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name)
        if inspect.ismodule(value):
            continue  # a public submodule: its own __all__ is checked by its own case
        if not any(entry is value for entry in documented.get(name, ())):
            missing.append(f"{module_name}.{name}")
    assert not missing, f"public names with no entry in the API reference (docs/*.md): {missing}"
