"""The Django example's own test suite (examples/django, pytest-django) passes.

It runs in a separate pytest process: the example configures Django from its own settings module
(``DJANGO_SETTINGS_MODULE`` in its ``pytest.ini``), which this suite's process must not do.  On
PostgreSQL when ``FUNNELKIT_TEST_POSTGRES_URL`` is set (as in CI), else on SQLite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "django"


def test_the_django_example_passes_its_tests() -> None:
    """`pytest` in examples/django passes: the form, the host's transaction, the handoff."""
    pytest.importorskip("django", reason="Django is not installed: pip install 'funnelkit[django]'")
    pytest.importorskip("pytest_django", reason="pytest-django is not installed (it is in .[test])")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q"], cwd=EXAMPLE,
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
