"""examples/testing, Acme's host-style test suite, passes when run the way a host runs it.

The main test run does not collect examples/ (testpaths is tests/); this test runs that suite in
its own pytest process instead, with the plugin loaded through its entry point, as in a host's
project.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "testing"


def test_the_example_host_suite_passes(tmp_path):
    """Every test of examples/testing passes, with the plugin's fixtures and the seed header."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLES), "-p", "no:cacheprovider",
         "--funnelkit-seed=7", "-W", "error", "--rootdir", str(EXAMPLES)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "funnelkit: --funnelkit-seed=7" in result.stdout
    assert " passed" in result.stdout
    assert "failed" not in result.stdout
