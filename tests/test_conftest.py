"""The suite's own report: the README's test command sums skips up, one line per reason."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

ROOT = Path(__file__).resolve().parents[1]

SERVER_TESTS = """
    import pytest

    @pytest.mark.postgres
    @pytest.mark.parametrize("n", range(5))
    def test_needs_postgres(n):
        pytest.skip("postgres store tests did not run: FUNNELKIT_TEST_POSTGRES_URL is not set")

    @pytest.mark.parametrize("n", range(3))
    def test_needs_data(n):
        pytest.skip("no data here")

    def test_plain():
        pass
"""
SKIPPED_MODULE = """
    import pytest

    pytest.skip("not on this platform", allow_module_level=True)
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run a small suite with this project's pyproject.toml (its addopts) and tests/conftest.py."""
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_servers=SERVER_TESTS, test_skipped_module=SKIPPED_MODULE)
    return pytester.runpytest(
        str(pytester.path), "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(pytester.path),
        *args)


def test_skips_are_summed_up_one_line_per_reason(pytester: pytest.Pytester) -> None:
    """No SKIPPED line per test: a count per reason, then how to run the database tests."""
    result = _run(pytester)
    result.assert_outcomes(passed=1, skipped=9)
    result.stdout.no_fnmatch_line("SKIPPED *")
    result.stdout.fnmatch_lines([
        "*= 9 skipped, one line per reason =*",
        "5 postgres store tests did not run: FUNNELKIT_TEST_POSTGRES_URL is not set",
        "3 no data here",
        "1 not on this platform",
        "To run the database tests, set FUNNELKIT_TEST_POSTGRES_URL to the URL of a server *",
    ])


def test_asking_for_skip_lines_still_gives_them(pytester: pytest.Pytester) -> None:
    """-rs lists each skip as pytest does, and the summary steps aside."""
    result = _run(pytester, "-rs")
    result.assert_outcomes(passed=1, skipped=9)
    result.stdout.fnmatch_lines(["SKIPPED *no data here"])
    result.stdout.no_fnmatch_line("*one line per reason*")
