"""Integration tests on the real Olist funnel data; skipped cleanly when the data is absent."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import timedelta
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
    return _example().load(olist_dir)


def test_every_mql_becomes_a_lead_and_every_deal_a_win(run) -> None:
    """All 8,000 MQLs are leads and all 842 deals are wins; the bad row is reported, not lost."""
    assert len(run.leads) == 8000
    assert sum(lead.stage == "won" for lead in run.leads.values()) == 842
    assert len(run.transitions) == 3 * 842
    assert run.refused == []
    ((mql_id, what),) = run.adjusted
    assert mql_id == "b91cf8812365f50ff4bda4bcd6206b05"
    assert "before its first contact" in what
    lead = run.leads[mql_id]
    assert lead.stage_entered_at == lead.created_at  # dated at the first contact


def test_history_replays_to_the_same_stages(run) -> None:
    """Replaying the transitions through the funnel gives every won lead's stage and version."""
    replayed = run.funnel.replay(run.transitions)
    assert len(replayed) == 842
    for lead_id, result in replayed.items():
        assert result.problems == ()
        assert (result.stage, result.version) == (run.leads[lead_id].stage, run.leads[lead_id].version)


def test_conversion_by_origin_keeps_empty_apart_from_unknown(run) -> None:
    """Groups add up to all MQLs and wins; an empty origin is None, not the origin 'unknown'."""
    log = run.log()
    result = log.conversion(steps=["mql", "won"], by="channel", top=20, other="(rest)")
    assert sum(rows[0].entered for rows in result.groups.values()) == 8000
    assert sum(rows[1].entered for rows in result.groups.values()) == 842
    assert result.groups[None][0].entered == 60
    assert result.groups["unknown"][0].entered == 1099
    assert (result.groups["organic_search"][0].entered,
            result.groups["organic_search"][1].entered) == (2296, 271)
    # No lost deal is recorded: every MQL not won is open (censored), none dropped.
    first = result.steps[0]
    assert (first.open, first.dropped, first.rate_closed) == (8000 - 842, 0, 1.0)


def test_time_to_win_censors_the_open_mqls(run) -> None:
    """The Aalen-Johansen share won by 180 days is below the raw share won, open MQLs censored."""
    outcome = run.log().time_to_outcome()
    assert (outcome.won, outcome.lost, outcome.censored) == (842, 0, 8000 - 842)
    assert 0.09 < outcome.won_by(timedelta(days=180)) < 842 / 8000
    assert outcome.median_time_to_win is not None


def test_cohorts_leave_no_horizon_open_at_the_end_of_the_data(run) -> None:
    """Every monthly cohort is older than 90 days at as_of: no None left; counts add up."""
    rows = run.log().cohorts("month", horizons=("90 days",)).rows
    assert sum(r.leads for r in rows) == 8000
    assert all(r.won[0] is not None for r in rows)


def test_the_example_runs_as_a_script(olist_dir: Path) -> None:
    """`python examples/olist/olist_funnel.py DATA_DIR` prints the breakdown and exits 0."""
    done = subprocess.run([sys.executable, str(EXAMPLE), str(olist_dir)], capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "8000 MQLs, 842 won" in done.stdout
    assert "adjusted b91cf8812365f50ff4bda4bcd6206b05" in done.stdout
    assert "organic_search" in done.stdout


def test_the_example_explains_a_missing_folder(tmp_path: Path) -> None:
    """Pointed at a folder without the data, the example says so and exits 2."""
    done = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path)], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 2
    assert "no Olist data" in done.stdout
