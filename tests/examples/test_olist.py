"""Integration tests on the real Olist funnel data; skipped cleanly when the data is absent."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from types import ModuleType

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "olist" / "olist_funnel.py"
pytestmark = pytest.mark.olist


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("olist_funnel", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["olist_funnel"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run(olist_dir: Path):  # noqa: ANN201 - the example's own dataclass
    return _example().walk(olist_dir)


def test_every_mql_becomes_a_lead(run) -> None:
    """All 8,000 MQLs are captured, each at the funnel's initial stage or further."""
    assert len(run.leads) == 8000
    assert {lead.stage for lead in run.leads.values()} <= {"mql", "won"}


def test_won_deals_are_walked_and_the_bad_row_is_refused(run) -> None:
    """841 of the 842 closed deals reach `won`; the one won before its first contact is refused."""
    won = [lead for lead in run.leads.values() if lead.stage == "won"]
    assert len(won) == 841
    assert len(run.refused) == 1
    mql_id, why = run.refused[0]
    assert "before lead" in why
    assert run.leads[mql_id].stage == "mql"  # the refused lead was left untouched
    assert len(run.transitions) == 3 * 841


def test_history_replays_to_the_same_stages(run) -> None:
    """Replaying the transitions through the funnel gives every won lead's stage and version."""
    replayed = run.funnel.replay(run.transitions)
    assert len(replayed) == 841
    for lead_id, result in replayed.items():
        assert result.problems == ()
        assert (result.stage, result.version) == (run.leads[lead_id].stage, run.leads[lead_id].version)


def test_channel_breakdown_adds_up(run) -> None:
    """Per-channel counts add up to all leads and all wins; empty origins count as unknown."""
    rows = run.by_channel()
    assert sum(n for _, n, _, _ in rows) == 8000
    assert sum(w for _, _, w, _ in rows) == 841
    assert {c: n for c, n, _, _ in rows}["unknown"] == 1099 + 60
    organic = next(r for r in rows if r[0] == "organic_search")
    assert organic[1:3] == (2296, 270)


def test_the_example_runs_as_a_script(olist_dir: Path) -> None:
    """`python examples/olist/olist_funnel.py DATA_DIR` prints the breakdown and exits 0."""
    done = subprocess.run([sys.executable, str(EXAMPLE), str(olist_dir)], capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "8000 MQLs, 841 won" in done.stdout
    assert "organic_search" in done.stdout


def test_the_example_explains_a_missing_folder(tmp_path: Path) -> None:
    """Pointed at a folder without the data, the example says so and exits 2."""
    done = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path)], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 2
    assert "no Olist data" in done.stdout
