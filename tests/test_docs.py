"""The documentation's examples run: every docstring example and every ```python block in docs/."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import funnelkit

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


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
