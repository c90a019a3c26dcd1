"""Shared test configuration: Hypothesis profiles, the Olist data set and the skip summary."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# "ci" is what .ci/run uses: more examples, no deadline (the machines are shared and noisy).
settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile("quick", max_examples=15, deadline=None)
settings.load_profile(os.environ.get("FUNNELKIT_HYPOTHESIS_PROFILE", "dev"))

OLIST = Path(os.environ.get("FUNNELKIT_OLIST_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "olist"))


@pytest.fixture(scope="session")
def olist_dir() -> Path:
    """The Olist data set folder; skips the test when it is absent."""
    if not (OLIST / "olist_marketing_qualified_leads_dataset.csv").is_file():
        pytest.skip(f"the Olist data set is not at {OLIST}; set FUNNELKIT_OLIST_DIR to run this test")
    return OLIST


# Markers of the tests that need a database server, and the variable naming each server.
SERVER_MARKERS = {"postgres": "FUNNELKIT_TEST_POSTGRES_URL", "mariadb": "FUNNELKIT_TEST_MARIADB_URL"}


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return message.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Skipped tests in one line per reason, with counts, and how to run the database tests.

    The suite's addopts ask for ``-rfE``, not ``-ra``: without servers, ``-ra`` printed a line per
    database test.  A run given ``-rs`` or ``-ra`` gets those lines and not this summary.
    """
    skipped: list[pytest.TestReport | pytest.CollectReport] = terminalreporter.stats.get(
        "skipped", [])
    if not skipped or set(config.option.reportchars) & set("saA"):
        return
    reasons = Counter(_skip_reason(report) for report in skipped)
    width = len(str(max(reasons.values())))
    terminalreporter.write_sep("=", f"{len(skipped)} skipped, one line per reason")
    for reason, count in reasons.most_common():
        terminalreporter.write_line(f"{count:>{width}} {reason}")
    servers = [env for marker, env in SERVER_MARKERS.items()
               if any(marker in getattr(report, "keywords", ()) for report in skipped)]
    if servers:
        terminalreporter.write_line(
            f"To run the database tests, set {' and '.join(servers)} to the URL of a server "
            f"(see tests/_servers.py); FUNNELKIT_REQUIRE_SERVERS=1 makes them fail, "
            f"not skip, when a server is missing.")
