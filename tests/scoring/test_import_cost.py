"""Importing funnelkit, its policies and its scoring loads no dateutil and no entry-point machinery."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Loaded on first use only: dateutil (and the calendar and locale modules it loads) for calendar
#: half-lives, importlib.metadata for third-party policies.
HEAVY = ("dateutil", "calendar", "importlib.metadata")


def loaded_after(code: str) -> list[str]:
    """The HEAVY modules a fresh interpreter has loaded after running *code*."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    modules = json.loads(done.stdout.splitlines()[-1])
    return [m for m in modules if m in HEAVY or m.startswith(tuple(f"{h}." for h in HEAVY))]


@pytest.mark.parametrize("code", [
    "import funnelkit",
    "import funnelkit.policies",
    "import funnelkit.scoring",
    "from funnelkit.scoring import ScoringModel; ScoringModel(half_life='30 days')",
    "from funnelkit.policies import from_name; from_name('bant', min_met=3)",
])
def test_nothing_heavy_is_loaded_before_it_is_needed(code: str) -> None:
    """None of dateutil, the calendar module or importlib.metadata is imported by this code."""
    assert loaded_after(code) == []


def test_what_needs_them_loads_them() -> None:
    """A calendar half-life loads dateutil; an unknown policy name looks at entry points."""
    assert "dateutil" in loaded_after(
        "from funnelkit.scoring import ScoringModel; ScoringModel(half_life='1 month')")
    assert "importlib.metadata" in loaded_after(
        "from funnelkit.policies import available; available()")
